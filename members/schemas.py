"""Member-facing request and response bodies."""
from __future__ import annotations

import unicodedata

from marshmallow import Schema, ValidationError, fields, validate

from app import references
from app.errors import ValidationError as ApiValidationError
from app.fields import Id

# Format characters that emoji sequences need (👨‍👩‍👧 joins with U+200D; ZWNJ shapes some scripts); every other
# format character (bidi overrides that reverse what a clerk reads, invisible separators) is refused.
EMOJI_JOINERS = {"\u200d", "\u200c"}


def _no_control_chars(value: str) -> None:
    if any(unicodedata.category(ch) in ("Cc", "Cf") and ch not in EMOJI_JOINERS for ch in value):
        raise ValidationError("Must not contain control characters.")


# The building blocks of the benefit tables of tiers and VIP plans.
CODE_FORMAT = validate.Regexp(r"^[a-z0-9_-]+$", error="lowercase a-z, 0-9, _ or -")


class DisplayBenefit(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=32))
    icon = fields.String(load_default="", validate=validate.Length(max=64))
    text = fields.String(load_default="", validate=validate.Length(max=200))


class PackItem(Schema):
    coupon_template_id = Id(required=True)
    count = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1, max=20))


class WechatLoginIn(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=128))
    scene = fields.String(load_default=None, validate=validate.Length(max=64))
    inviter_code = fields.String(load_default=None, validate=validate.Length(max=16))


class TierRef(Schema):
    code = fields.String()
    name = fields.String()


class NextTier(Schema):
    code = fields.String()
    name = fields.String()
    growth_needed = fields.Integer()


class PointsSummary(Schema):
    balance = fields.Integer(metadata={"description": "spendable points"})
    pending = fields.Integer(metadata={"description": "earned, waiting for the return window"})
    debt = fields.Integer(metadata={"description": "points owed after a refund; later earnings pay it first"})
    expiring_soon = fields.Integer(metadata={"description": "points expiring within 30 days"})
    expiring_soon_at = fields.DateTime(allow_none=True, metadata={"description": "the first of those expiries"})


class VipState(Schema):
    active = fields.Boolean()
    until = fields.DateTime(allow_none=True)


class MemberBrief(Schema):
    id = fields.Integer()
    nickname = fields.String(allow_none=True)
    avatar_url = fields.String(allow_none=True)
    tier = fields.Nested(TierRef, allow_none=True)
    invite_code = fields.String()


class LoginOut(Schema):
    token = fields.String()
    member = fields.Nested(MemberBrief)
    is_new = fields.Boolean()


class Profile(Schema):
    id = fields.Integer()
    nickname = fields.String(allow_none=True)
    avatar_url = fields.String(allow_none=True)
    gender = fields.Integer()
    phone = fields.String(allow_none=True, metadata={"description": "masked, 138****5678"})
    birthday = fields.Date(allow_none=True)
    tier = fields.Nested(TierRef, allow_none=True)
    growth = fields.Integer()
    next_tier = fields.Nested(NextTier, allow_none=True)
    points = fields.Nested(PointsSummary)
    vip = fields.Nested(VipState)
    invite_code = fields.String()
    created_at = fields.DateTime()


class PhoneBound(Profile):
    token = fields.String(metadata={"description": "only when binding the phone linked the shopper to an imported "
                                                   "customer: the token of that member (the old one is revoked)"})


class ProfilePatch(Schema):
    nickname = fields.String(validate=[validate.Length(min=1, max=64), _no_control_chars])
    avatar_url = fields.URL(validate=validate.Length(max=512))
    gender = fields.Integer(validate=validate.OneOf([0, 1, 2]))
    birthday = fields.Date()


class PhoneIn(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=128))


class MemberCodeOut(Schema):
    code = fields.String(metadata={"description": "18 digits; show as barcode and QR"})
    expires_at = fields.DateTime(metadata={"description": "the code is refused after this instant"})
    refresh_at = fields.DateTime(metadata={"description": "fetch a new code at this instant"})


class ScanIn(Schema):
    member_code = fields.String(required=True, validate=validate.Length(min=1, max=32))


class ScanOut(Schema):
    id = fields.Integer()
    nickname = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    tier = fields.Nested(TierRef, allow_none=True)
    vip = fields.Nested(VipState)
    points = fields.Nested(PointsSummary)
    usable_coupons = fields.List(fields.Dict())


def load_benefits(schema: Schema, benefits: dict) -> dict:
    """A benefit table (a tier's or a VIP plan's) as `schema` cleans it: a bad part is a 422 naming
    `benefits.<part>`, and a monthly pack naming a coupon template that does not exist is refused."""
    try:
        clean = schema.load(benefits)
    except ValidationError as exc:
        name, reasons = next(iter(exc.normalized_messages().items()))
        raise ApiValidationError(f"benefits.{name}", str(reasons)) from None
    references.check("coupon_template", [p["coupon_template_id"] for p in clean.get("monthly_pack", [])],
                     "benefits.monthly_pack")
    return clean
