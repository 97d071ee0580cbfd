"""Marshmallow fields and limits shared by every domain's schemas: money and points are ints, codes are plain."""
from __future__ import annotations

from datetime import date

from marshmallow import fields, validate

from app import clock

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


class DayOrMoment(fields.AwareDateTime):
    """A moment with its offset, or a plain business day: the start of that day (`edge="start"`) or its
    end (`edge="end"`, exclusive), in the business time zone. Marketing types dates, not instants."""

    def __init__(self, edge: str = "start", **kwargs):
        super().__init__(default_timezone=None, **kwargs)
        self.edge = edge

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and len(value) == 10:
            try:
                day = date.fromisoformat(value)
            except ValueError:
                raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None
            return clock.start_of_business_day(day) if self.edge == "start" else clock.end_of_business_day(day)
        return super()._deserialize(value, attr, data, **kwargs)
