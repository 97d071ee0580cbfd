"""Marshmallow fields and limits shared by every domain's schemas: money and points are ints, codes are plain."""
from __future__ import annotations

from marshmallow import fields, validate

MAX_FEN = 100_000_000
MAX_POINTS = 100_000_000
# Every id column is an INTEGER (PostgreSQL int4). A bigger number names nothing, and a statement comparing an
# id with it is refused by PostgreSQL (from 2**31) or by SQLite's driver (from 2**63): a 500, not a 404.
MAX_ID = 2**31 - 1


class StrictInt(fields.Integer):
    """An int and nothing else: no floats, strings or booleans near money and points."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)  # marshmallow already refuses booleans


class Id(fields.Integer):
    """A row id (1..MAX_ID), the one field every id in a body or a query string uses, so no id out of the
    columns' range reaches a statement. Strict (an int, not "12") in JSON; pass strict=False in a query
    string, where every value is text."""

    def __init__(self, *, strict: bool = True, **kwargs):
        extra = kwargs.pop("validate", None)
        extra = [] if extra is None else list(extra) if isinstance(extra, list | tuple) else [extra]
        super().__init__(strict=strict, validate=[validate.Range(min=1, max=MAX_ID), *extra], **kwargs)


def code(length: int = 64):
    """A business code (SKU, order number): plain ASCII, so look-alike characters cannot make a second one."""
    return validate.And(validate.Length(min=1, max=length),
                        validate.Regexp(r"^[A-Za-z0-9._:\-]+$", error="Letters, digits and . _ : - only."))
