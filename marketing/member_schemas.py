"""The marketing console's member search (query and rows) and one member's detail."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.fields import Id
from app.pagination import ListArgs, page_schema
from coupons.schemas import CouponOut
from members.schemas import NextTier, PointsSummary, TierRef, VipState
from points.schemas import LedgerPage
from tiers.schemas import TierChangeOut


class AdminMemberQuery(ListArgs):
    """Every given filter must hold (AND). Unknown parameters are refused, so a typo never widens a search."""

    member_id = Id(strict=False)
    phone = fields.String(validate=validate.Length(min=1, max=20), metadata={"description": "the full number, exact"})
    openid = fields.String(validate=validate.Length(min=1, max=128))
    unionid = fields.String(validate=validate.Length(min=1, max=128))
    invite_code = fields.String(validate=validate.Length(min=1, max=16), metadata={"description": "any case"})
    nickname = fields.String(validate=validate.Length(min=1, max=64),
                             metadata={"description": "contains, case-insensitive"})
    tier = fields.String(validate=validate.Length(min=1, max=32), metadata={"description": "tier code"})
    tag = fields.List(fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(min=1, max=20),
                      metadata={"description": "repeatable (`?tag=a&tag=b`): the member carries all of them"})
    vip = fields.Boolean(metadata={"description": "true: VIP now; false: not VIP now"})
    joined_from = fields.Date(metadata={"description": "business day, inclusive"})
    joined_to = fields.Date(metadata={"description": "business day, inclusive"})
    invited_by = Id(strict=False, metadata={"description": "members this member invited (their referrals)"})
    lifecycle = fields.String(validate=validate.Length(min=1, max=16),
                              metadata={"description": "lifecycle stage of the last lifecycle run"})
    rfm_segment = fields.String(validate=validate.Length(min=1, max=32),
                                metadata={"description": "RFM segment of the last scoring run"})
    r_score = fields.Integer(validate=validate.Range(min=1, max=5), metadata={"description": "RFM recency score"})
    f_score = fields.Integer(validate=validate.Range(min=1, max=5), metadata={"description": "RFM frequency score"})


class AdminMemberExportQuery(AdminMemberQuery):
    """The search's filters; the whole list is the file, so there is no page."""

    class Meta:
        exclude = ("limit", "cursor")


class AdminMemberRow(Schema):
    id = fields.Integer()
    nickname = fields.String(allow_none=True)
    phone = fields.String(allow_none=True, metadata={"description": "masked for every role, 138****5678"})
    tier = fields.Nested(TierRef, allow_none=True)
    growth = fields.Integer()
    points_balance = fields.Integer(metadata={"description": "spendable points (available - debt)"})
    vip = fields.Nested(VipState)
    source_channel = fields.String(allow_none=True)
    created_at = fields.DateTime()


AdminMemberPage = page_schema(AdminMemberRow, "AdminMemberPage")


class AdminMemberTag(Schema):
    tag = fields.String()
    source = fields.String(metadata={"description": "auto (kept by the jobs) or manual"})
    created_at = fields.DateTime()


class CouponCounts(Schema):
    available = fields.Integer()
    used = fields.Integer()
    expired = fields.Integer(metadata={"description": "includes available coupons past their end"})
    revoked = fields.Integer()


class AdminMemberCoupons(Schema):
    counts = fields.Nested(CouponCounts)
    available = fields.List(fields.Nested(CouponOut),
                            metadata={"description": "newest first, at most 50 (counts.available says how many)"})


class AdminMemberDetail(Schema):
    id = fields.Integer()
    nickname = fields.String(allow_none=True)
    avatar_url = fields.String(allow_none=True)
    gender = fields.Integer()
    phone = fields.String(allow_none=True, metadata={"description": "masked for every role, 138****5678"})
    birthday = fields.Date(allow_none=True)
    invite_code = fields.String()
    source_channel = fields.String(allow_none=True)
    created_at = fields.DateTime()
    last_login_at = fields.DateTime(allow_none=True)
    tier = fields.Nested(TierRef, allow_none=True)
    next_tier = fields.Nested(NextTier, allow_none=True)
    tier_review_on = fields.Date(allow_none=True, metadata={"description": "business day of the next tier review"})
    growth = fields.Integer()
    points = fields.Nested(PointsSummary)
    vip = fields.Nested(VipState)
    tags = fields.List(fields.Nested(AdminMemberTag))
    ledger = fields.Nested(LedgerPage, metadata={
        "description": "the first page; continue with GET /api/v1/admin/members/{id}/points/ledger?cursor="})
    coupons = fields.Nested(AdminMemberCoupons)
    tier_history = fields.List(fields.Nested(TierChangeOut), metadata={"description": "the latest 10, newest first"})
    invited_by_id = fields.Integer(allow_none=True, metadata={"description": "the inviter (open their detail)"})
    referrals = fields.Integer(metadata={"description": "members who joined with this member's invite code"})


class RevokedSessionsOut(Schema):
    member_id = fields.Integer(attribute="id")
    tokens_valid_after = fields.DateTime(metadata={"description": "tokens issued at or before this are refused"})
