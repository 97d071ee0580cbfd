"""The tier ladder's bodies: the benefit table marketing edits, the tier, the ladder policy.

The member-price column is not in the benefit table: products carry their per-tier prices
(`member_prices: {"<tier code>": fen, "vip": fen}`), keyed by the tier code.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.fields import Id, patch_of
from members.schemas import CODE_FORMAT, DisplayBenefit, PackItem, TierRef

MAX_POINTS = 1_000_000
class BirthdayGift(Schema):
    points = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0, max=MAX_POINTS))
    coupon_template_ids = fields.List(Id(),
                                      load_default=list, validate=validate.Length(max=10))
    when = fields.String(load_default="birthday", validate=validate.OneOf(["birthday", "month_start"]),
                         metadata={"description": "on the birthday, or on the first day of the birthday month"})


class TierBenefits(Schema):
    points_multiplier_percent = fields.Integer(
        load_default=100, strict=True, validate=validate.Range(min=100, max=1000),
        metadata={"description": "150 = x1.5 points on purchases"})
    birthday_gift = fields.Nested(BirthdayGift, allow_none=True, load_default=None)
    monthly_pack = fields.List(fields.Nested(PackItem), load_default=list, validate=validate.Length(max=20))
    free_shipping = fields.Boolean(load_default=False)
    display = fields.List(fields.Nested(DisplayBenefit), load_default=list, validate=validate.Length(max=20))


class TierIn(Schema):
    code = fields.String(required=True, validate=[validate.Length(min=1, max=32), CODE_FORMAT])
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    rank = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100))
    growth_threshold = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10**9))
    retention_threshold = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0, max=10**9))
    review_rule = fields.String(load_default="anniversary", validate=validate.OneOf(["anniversary", "calendar"]))
    review_month_day = fields.String(load_default=None, allow_none=True,
                                     validate=validate.Regexp(r"^\d{2}-\d{2}$", error="MM-DD"))
    benefits = fields.Nested(TierBenefits, load_default=dict)


# Every field optional; the ladder is checked as a whole after the change.
TierPatch = patch_of(TierIn, "TierPatch")


class TierOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    rank = fields.Integer()
    growth_threshold = fields.Integer()
    retention_threshold = fields.Integer()
    review_rule = fields.String()
    review_month_day = fields.String(allow_none=True)
    benefits = fields.Dict()


class TierList(Schema):
    items = fields.List(fields.Nested(TierOut))


class PublicTier(Schema):
    code = fields.String()
    name = fields.String()
    rank = fields.Integer()
    growth_threshold = fields.Integer()
    benefits = fields.Dict()


class PublicLadder(Schema):
    items = fields.List(fields.Nested(PublicTier))


class TierPolicyIn(Schema):
    downgrade_mode = fields.String(validate=validate.OneOf(["one_step", "to_supported"]),
                                   metadata={"description": "at review: one tier down, or to what growth supports"})
    refund_downgrade = fields.String(validate=validate.OneOf(["at_review", "immediate"]),
                                     metadata={"description": "growth removed by refunds: downgrade now or at review"})
    growth_per_yuan = fields.Integer(strict=True, validate=validate.Range(min=0, max=100),
                                     metadata={"description": "growth a purchase adds per yuan of money paid"})


class TierPolicyOut(Schema):
    downgrade_mode = fields.String()
    refund_downgrade = fields.String()
    growth_per_yuan = fields.Integer()


class TierChangeOut(Schema):
    id = fields.Integer()
    from_tier = fields.Nested(TierRef, allow_none=True)
    to_tier = fields.Nested(TierRef)
    reason = fields.String()
    growth = fields.Integer()
    created_at = fields.DateTime()
