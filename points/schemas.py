"""Request and response bodies of the points domain (API.md "Key bodies"). Money in fen, points int:
integer fields are strict, so 12.5, "12" or true are refused rather than rounded."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.fields import MAX_POINTS, StrictInt
from app.pagination import page_schema


class PolicyIn(Schema):
    points_per_yuan = StrictInt(required=True, validate=validate.Range(min=0, max=100),
                                metadata={"description": "points per yuan paid, rounded down"})
    expiry_kind = fields.String(required=True, validate=validate.OneOf(["rolling_months", "year_end", "never"]))
    expiry_months = StrictInt(required=True, validate=validate.Range(min=1, max=120))
    expiry_years = StrictInt(required=True, validate=validate.Range(min=1, max=10),
                             metadata={"description": "year_end: points expire at the end of the Nth calendar year"})
    pending_days = StrictInt(required=True, validate=validate.Range(min=0, max=90),
                             metadata={"description": "return window before earned points are usable"})
    points_per_yuan_value = StrictInt(required=True, validate=validate.Range(min=1, max=100_000),
                                      metadata={"description": "how many points pay one yuan at the till"})
    max_deduction_percent = StrictInt(required=True, validate=validate.Range(min=0, max=100))


class PolicyOut(PolicyIn):
    updated_at = fields.DateTime()


class LedgerEntryOut(Schema):
    id = fields.Integer()
    delta = fields.Integer()
    kind = fields.String()
    balance_after = fields.Integer()
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    ref = fields.Function(lambda e: f"{e.cause_type}:{e.cause_id}" if e.cause_id else e.cause_type)
    note = fields.String(allow_none=True)


LedgerPage = page_schema(LedgerEntryOut, "LedgerPage")


class AdjustmentIn(Schema):
    delta = StrictInt(required=True, validate=[validate.Range(min=-MAX_POINTS, max=MAX_POINTS),
                                               validate.NoneOf([0], error="Must not be zero.")])
    reason = fields.String(required=True, validate=validate.Length(min=1, max=255))


class AdjustmentHeaders(Schema):
    class Meta:
        unknown = "exclude"  # every other request header

    idempotency_key = fields.String(data_key="Idempotency-Key", load_default=None,
                                    validate=validate.Length(min=1, max=64))


class AdjustmentOut(Schema):
    entry = fields.Nested(LedgerEntryOut)
    balance = fields.Integer()
