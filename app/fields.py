"""Marshmallow fields and limits shared by every domain's schemas: money and points are ints, codes are plain."""
from __future__ import annotations

from marshmallow import fields, validate

MAX_FEN = 100_000_000
MAX_POINTS = 100_000_000


class StrictInt(fields.Integer):
    """An int and nothing else: no floats, strings or booleans near money and points."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)  # marshmallow already refuses booleans


def code(length: int = 64):
    """A business code (SKU, order number): plain ASCII, so look-alike characters cannot make a second one."""
    return validate.And(validate.Length(min=1, max=length),
                        validate.Regexp(r"^[A-Za-z0-9._:\-]+$", error="Letters, digits and . _ : - only."))
