"""Coupon request and response bodies (API.md: Coupon, Coupon template)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.fields import Id
from app.jobs import MAX_RETRIES, RETRY_INTERVALS
from app.pagination import ListArgs

MONEY = validate.Range(min=0, max=100_000_000)  # fen; a million yuan is beyond any coupon
RETRY_WAITS = ", ".join(f"{seconds} s" for seconds in RETRY_INTERVALS)
TAGS_DESCRIPTION = "member tags (any of them); each must be carried by some member, else 422 unknown_tag"


def _money(**kwargs) -> fields.Integer:
    return fields.Integer(strict=True, validate=MONEY, **kwargs)


class ScopeSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["all", "categories", "skus"]))
    values = fields.List(fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=200))
    exclude = fields.Boolean(metadata={"description": "true: every line except these categories/SKUs"})


class ValiditySchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["fixed", "relative"]))
    start = fields.Date(allow_none=True, metadata={"description": "fixed: first business day"})
    end = fields.Date(allow_none=True, metadata={"description": "fixed: last business day (inclusive)"})
    days = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=3650),
                          metadata={"description": "relative: valid until the end of the business day N days "
                                                   "after issue"})


class AudienceSchema(Schema):
    tiers = fields.List(fields.String(validate=validate.Length(min=1, max=32)), validate=validate.Length(max=20))
    tags = fields.List(fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=50),
                       metadata={"description": TAGS_DESCRIPTION})
    new_members_only = fields.Boolean(metadata={"description": "granted on registration; claimable only by "
                                                               "members without a purchase"})


class TemplateIn(Schema):
    code = fields.String(validate=[validate.Length(min=1, max=32), validate.Regexp(r"^[A-Za-z0-9_\-]+$")],
                         metadata={"description": "stable unique code other domains refer to; when absent one is "
                                                  "generated (T + 10 hex digits) and returned; a taken code: 409"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=64))
    description = fields.String(allow_none=True, validate=validate.Length(max=500))
    kind = fields.String(required=True, validate=validate.OneOf(["amount_off", "percent_off", "gift"]))
    amount_off = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=100_000_000))
    percent = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=99),
                             metadata={"description": "share of the price paid: 88 = 88折 (12% off)"})
    max_discount = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=100_000_000))
    gift_sku = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    threshold = _money(metadata={"description": "fen of in-scope amount after member prices; 0 = none"})
    scope = fields.Nested(ScopeSchema)
    validity = fields.Nested(ValiditySchema, required=True)
    stock = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=0, max=100_000_000),
                           metadata={"description": "null = unlimited"})
    per_member_limit = fields.Integer(strict=True, validate=validate.Range(min=1, max=100))
    audience = fields.Nested(AudienceSchema)
    claimable = fields.Boolean(metadata={"description": "offered in the claim center"})
    claim_start = fields.AwareDateTime(allow_none=True)
    claim_end = fields.AwareDateTime(allow_none=True)
    stackable = fields.Boolean()
    active = fields.Boolean(metadata={"description": "false = stopped: no more claims or grants"})


class TemplatePatch(TemplateIn):
    """Any field of the template; terms (kind, amounts, scope, validity, stacking) are frozen once coupons exist."""

    code = fields.String(validate=[validate.Length(min=1, max=32), validate.Regexp(r"^[A-Za-z0-9_\-]+$")])
    title = fields.String(validate=validate.Length(min=1, max=64))
    kind = fields.String(validate=validate.OneOf(["amount_off", "percent_off", "gift"]))
    validity = fields.Nested(ValiditySchema)


class ValidityOut(Schema):
    kind = fields.String()
    start = fields.Date(allow_none=True)
    end = fields.Date(allow_none=True)
    days = fields.Integer(allow_none=True)


class ScopeOut(Schema):
    kind = fields.String()
    values = fields.List(fields.String())
    exclude = fields.Boolean()


class AudienceOut(Schema):
    tiers = fields.List(fields.String())
    tags = fields.List(fields.String())
    new_members_only = fields.Boolean()


class TemplateOut(Schema):
    id = fields.Integer()
    code = fields.String()
    title = fields.String()
    description = fields.String(allow_none=True)
    kind = fields.String()
    amount_off = fields.Integer(allow_none=True)
    percent = fields.Integer(allow_none=True)
    max_discount = fields.Integer(allow_none=True)
    gift_sku = fields.String(allow_none=True)
    threshold = fields.Integer()
    scope = fields.Nested(ScopeOut)
    validity = fields.Nested(ValidityOut)
    stock = fields.Integer(allow_none=True)
    issued = fields.Integer()
    per_member_limit = fields.Integer()
    audience = fields.Nested(AudienceOut)
    claimable = fields.Boolean()
    claim_start = fields.DateTime(allow_none=True)
    claim_end = fields.DateTime(allow_none=True)
    stackable = fields.Boolean()
    active = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    terms_frozen = fields.Boolean(metadata={
        "description": "coupons were issued: kind, amounts, threshold, scope, validity and stacking can no longer "
                       "change (409 coupon_template_in_use); title, stock, limits, audience, claiming and active can"})


class TemplateListArgs(ListArgs):
    active = fields.Boolean(load_default=None)


class CouponOut(Schema):
    id = fields.Integer()
    code = fields.String(metadata={"description": "20 digits, for the barcode"})
    template_id = fields.Integer()
    title = fields.String()
    kind = fields.String()
    state = fields.String(metadata={"description": "available | used | expired | revoked"})
    valid_from = fields.DateTime()
    valid_until = fields.DateTime(metadata={"description": "exclusive: the coupon ends at this instant"})
    terms = fields.Dict()
    used_at = fields.DateTime(allow_none=True)


class MyCouponsArgs(ListArgs):
    state = fields.String(load_default=None, validate=validate.OneOf(["available", "used", "expired", "revoked"]))


class CenterItem(Schema):
    template = fields.Nested(TemplateOut)
    can_claim = fields.Boolean()
    reason = fields.String(allow_none=True, metadata={
        "description": "why not: stopped, not_claimable, not_started, not_in_audience, new_members_only, "
                       "limit_reached, out_of_stock"})
    claimed = fields.Integer(metadata={"description": "coupons of this template the member holds"})
    remaining = fields.Integer(allow_none=True, metadata={"description": "stock left; null = unlimited"})


class CenterOut(Schema):
    items = fields.List(fields.Nested(CenterItem))


class VerifyIn(Schema):
    coupon_code = fields.String(required=True, validate=validate.Length(min=1, max=32))


class IssueAudience(Schema):
    tiers = fields.List(fields.String(validate=validate.Length(min=1, max=32)), validate=validate.Length(max=20))
    tags = fields.List(fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=50),
                       metadata={"description": TAGS_DESCRIPTION})
    member_ids = fields.List(Id(),
                             validate=validate.Length(max=10_000))
    birthday_month = fields.Integer(strict=True, validate=validate.Range(min=1, max=12))
    all_members = fields.Boolean()
    audience_id = Id(metadata={
        "description": "a saved audience (/admin/audiences): its filter is taken when the issue is created; "
                       "cannot be combined with the other criteria"})


class IssueIn(Schema):
    audience = fields.Nested(IssueAudience, required=True)
    key = fields.String(validate=[validate.Length(min=1, max=64), validate.Regexp(r"^[A-Za-z0-9_\-:.]+$")],
                        metadata={"description": "campaign key: the same key re-posted is the same issue"})


class IssueOut(Schema):
    id = fields.Integer()
    template_id = fields.Integer()
    key = fields.String()
    audience = fields.Dict()
    state = fields.String(metadata={
        "description": "queued | running | done | failed. A failed try leaves it running with `error` set while "
                       f"RQ retries ({MAX_RETRIES} retries, after {RETRY_WAITS}); after the last try it is failed. "
                       "Re-posting the same key queues a failed issue again; it resumes where it stopped."})
    issued = fields.Integer()
    skipped = fields.Integer(metadata={"description": "members who already had it from this issue"})
    failed = fields.Integer(metadata={"description": "members not served (out of stock, template stopped)"})
    error = fields.String(allow_none=True, metadata={
        "description": "why members were not served (out of stock, template stopped or ended), or `job failed: "
                       "...` for the latest failed try (cleared when a later try finishes)"})
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    remaining = fields.Integer(metadata={
        "description": "members of the audience the job has not reached yet, counted now (0 once done)"})
    percent = fields.Integer(metadata={
        "description": "(issued + skipped + failed) of those plus `remaining`, in whole percent; 100 once done"})


class RevokeIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))
