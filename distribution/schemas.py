"""Distribution's bodies in and out. Money is fen; rates are basis points (500 = 5%)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError

from app.fields import MAX_FEN, Id, StrictInt, code, patch_of
from app.pagination import ListArgs, page_schema
from vip.schemas import PaymentParams

MAX_RATE_BP = 5000  # 50%: commission beyond half the money paid is no commission
MAX_DAYS = 3660


def _fen(**kwargs):
    return StrictInt(validate=validate.Range(min=0, max=MAX_FEN), metadata={"description": "fen"}, **kwargs)


class SettingsIn(Schema):
    enabled = fields.Boolean()
    checkin_days = StrictInt(allow_none=True, validate=validate.Range(min=1, max=MAX_DAYS),
                             metadata={"description": "route: this many check-in days; null = closed"})
    spend = StrictInt(allow_none=True, validate=validate.Range(min=1, max=MAX_FEN),
                      metadata={"description": "route: this much paid money (fen); null = closed"})
    vip_route = fields.Boolean(metadata={"description": "route: holding an active paid VIP"})
    pack_price = StrictInt(allow_none=True, validate=validate.Range(min=1, max=MAX_FEN),
                           metadata={"description": "route: buy a promoter pack for this many fen; null = closed"})
    binding_days = StrictInt(validate=validate.Range(min=1, max=365))
    touch = fields.String(validate=validate.OneOf(["first", "last"]))
    return_days = StrictInt(validate=validate.Range(min=0, max=90))
    second_level_bp = StrictInt(allow_none=True, validate=validate.Range(min=1, max=MAX_RATE_BP),
                                metadata={"description": "the promoter's inviter's rate; null = off (the default)"})
    withdraw_min = StrictInt(validate=validate.Range(min=100, max=MAX_FEN))
    withdraw_daily_count = StrictInt(validate=validate.Range(min=1, max=100))
    withdraw_approval_over = _fen()


class SettingsOut(Schema):
    enabled = fields.Boolean()
    checkin_days = fields.Integer(allow_none=True)
    spend = fields.Integer(allow_none=True)
    vip_route = fields.Boolean()
    pack_price = fields.Integer(allow_none=True)
    binding_days = fields.Integer()
    touch = fields.String()
    return_days = fields.Integer()
    second_level_bp = fields.Integer(allow_none=True)
    withdraw_min = fields.Integer()
    withdraw_daily_count = fields.Integer()
    withdraw_approval_over = fields.Integer()


class LevelIn(Schema):
    code = fields.String(required=True, validate=code(32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    rank = StrictInt(required=True, validate=validate.Range(min=0, max=100))
    min_fans = StrictInt(load_default=0, validate=validate.Range(min=0, max=10_000_000))
    min_gmv = _fen(load_default=0)


LevelPatch = patch_of(LevelIn, "LevelPatch")


class LevelOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    rank = fields.Integer()
    min_fans = fields.Integer()
    min_gmv = fields.Integer()


class LevelList(Schema):
    items = fields.List(fields.Nested(LevelOut))


class RuleIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    sku = fields.String(allow_none=True, load_default=None, validate=code(64))
    category = fields.String(allow_none=True, load_default=None, validate=validate.Length(min=1, max=64))
    level_id = Id(allow_none=True, load_default=None)
    rate_bp = StrictInt(required=True, validate=validate.Range(min=0, max=MAX_RATE_BP))
    cap_per_order = StrictInt(allow_none=True, load_default=None, validate=validate.Range(min=1, max=MAX_FEN))
    active = fields.Boolean(load_default=True)

    @validates_schema
    def _one_scope(self, data, **kwargs):
        if data.get("sku") and data.get("category"):
            raise SchemaError("A rule names a SKU or a category, not both.", "category")


RulePatch = patch_of(RuleIn, "RulePatch")


class RuleOut(Schema):
    id = fields.Integer()
    name = fields.String()
    sku = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    level_id = fields.Integer(allow_none=True)
    rate_bp = fields.Integer()
    cap_per_order = fields.Integer(allow_none=True)
    active = fields.Boolean()


class RuleList(Schema):
    items = fields.List(fields.Nested(RuleOut))


# --- the shopper ----------------------------------------------------------------------------------------

class RouteOut(Schema):
    route = fields.String(metadata={"description": "checkins | spend | vip | pack"})
    required = fields.Integer()
    progress = fields.Integer()
    met = fields.Boolean()


class LevelRef(Schema):
    code = fields.String()
    name = fields.String()
    rank = fields.Integer()


class RateOut(Schema):
    name = fields.String()
    sku = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    rate_bp = fields.Integer()
    cap_per_order = fields.Integer(allow_none=True)


class PromoterCard(Schema):
    id = fields.Integer()
    code = fields.String()
    state = fields.String()
    source = fields.String()
    level = fields.Nested(LevelRef, allow_none=True)
    rates = fields.List(fields.Nested(RateOut))
    pending = fields.Integer(metadata={"description": "fen waiting for the return window"})
    available = fields.Integer(metadata={"description": "settled fen free to withdraw"})
    debt = fields.Integer(metadata={"description": "fen owed after refunds of settled sales; later commission pays it"})
    withdrawing = fields.Integer()
    withdrawn = fields.Integer()
    fans = fields.Integer()
    gmv = fields.Integer()
    since = fields.DateTime()


class CardOut(Schema):
    enabled = fields.Boolean()
    promoter = fields.Nested(PromoterCard, allow_none=True)
    routes = fields.List(fields.Nested(RouteOut))


class PackOrderOut(Schema):
    order_no = fields.String()
    amount = fields.Integer(metadata={"description": "fen"})
    state = fields.String(metadata={"description": "created | paid"})
    paid_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class PackOrderCreated(Schema):
    order = fields.Nested(PackOrderOut)
    payment = fields.Nested(PaymentParams)


class ShareArgs(Schema):
    sku = fields.String(load_default=None, validate=code(64))


class ShareOut(Schema):
    promoter_code = fields.String()
    scene = fields.String(metadata={"description": "for wxacode.getUnlimited (at most 32 characters)"})
    page = fields.String()
    path = fields.String(metadata={"description": "for a share card (onShareAppMessage)"})


class BindIn(Schema):
    promoter_code = fields.String(required=True, validate=code(16))
    channel = fields.String(load_default="share", validate=validate.OneOf(["share", "qrcode", "poster", "moments",
                                                                           "group"]))


class BindOut(Schema):
    outcome = fields.String(metadata={"description": "bound | moved | renewed | kept"})
    promoter_code = fields.String(allow_none=True, metadata={"description": "the promoter now bound, if this one"})
    bound_until = fields.DateTime()


class FanOut(Schema):
    nickname = fields.String(allow_none=True, metadata={"description": "masked"})
    bound_at = fields.DateTime()
    expires_at = fields.DateTime()
    channel = fields.String()
    bought = fields.Boolean()


class CommissionOut(Schema):
    id = fields.Integer()
    order = fields.String(metadata={"description": "the order number, masked"})
    buyer = fields.String(allow_none=True, metadata={"description": "the buyer's nickname, masked"})
    depth = fields.Integer()
    base = fields.Integer()
    amount = fields.Integer()
    reversed = fields.Integer()
    state = fields.String()
    settle_at = fields.DateTime()
    created_at = fields.DateTime()


class EntryOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    pending_delta = fields.Integer()
    balance_delta = fields.Integer()
    frozen_delta = fields.Integer()
    pending_after = fields.Integer()
    balance_after = fields.Integer()
    frozen_after = fields.Integer()
    cause_type = fields.String()
    cause_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class WithdrawIn(Schema):
    withdrawal_no = fields.String(required=True, validate=code(32),
                                  metadata={"description": "made once per attempt: a retry is a replay"})
    amount = StrictInt(required=True, validate=validate.Range(min=1, max=MAX_FEN))
    real_name = fields.String(load_default=None, validate=validate.Length(min=1, max=64),
                              metadata={"description": "checked by WeChat Pay against the wallet when given"})


class WithdrawalOut(Schema):
    id = fields.Integer()
    withdrawal_no = fields.String()
    promoter_id = fields.Integer()
    amount = fields.Integer()
    state = fields.String(metadata={"description": "awaiting_approval | processing | paid | failed | rejected"})
    payment_no = fields.String(allow_none=True)
    failure = fields.String(allow_none=True)
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


FanPage = page_schema(FanOut, "FanPage")
CommissionPage = page_schema(CommissionOut, "CommissionPage")
EntryPage = page_schema(EntryOut, "EntryPage")
WithdrawalPage = page_schema(WithdrawalOut, "WithdrawalPage")


# --- marketing ------------------------------------------------------------------------------------------

class PromoterQuery(ListArgs):
    state = fields.String(load_default=None, validate=validate.OneOf(["active", "revoked"]))
    level_id = Id(strict=False, load_default=None)
    q = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class GrantIn(Schema):
    member_id = Id(required=True)


class PromoterRevokeIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class PromoterOut(Schema):
    id = fields.Integer()
    member_id = fields.Integer()
    nickname = fields.String(allow_none=True)
    phone = fields.String(allow_none=True, metadata={"description": "masked"})
    code = fields.String()
    state = fields.String()
    source = fields.String()
    level_id = fields.Integer(allow_none=True)
    parent_id = fields.Integer(allow_none=True)
    pending = fields.Integer()
    balance = fields.Integer(metadata={"description": "settled fen; negative = debt"})
    frozen = fields.Integer()
    withdrawn = fields.Integer()
    fans = fields.Integer()
    gmv = fields.Integer()
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


PromoterPage = page_schema(PromoterOut, "PromoterPage")


class LevelChangeOut(Schema):
    from_level_id = fields.Integer(allow_none=True)
    to_level_id = fields.Integer()
    fans = fields.Integer()
    gmv = fields.Integer()
    created_at = fields.DateTime()


class PromoterDetail(PromoterOut):
    level_history = fields.List(fields.Nested(LevelChangeOut))


class WithdrawalQuery(ListArgs):
    state = fields.String(load_default=None, validate=validate.OneOf(
        ["awaiting_approval", "processing", "paid", "failed", "rejected"]))


class RejectIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=128))


class TopPromoter(Schema):
    promoter_id = fields.Integer()
    code = fields.String()
    nickname = fields.String(allow_none=True)
    gmv = fields.Integer()
    fans = fields.Integer()
    commission = fields.Integer(metadata={"description": "fen earned, refunds deducted"})


class Liability(Schema):
    pending = fields.Integer(metadata={"description": "fen owed once return windows end"})
    settled = fields.Integer(metadata={"description": "fen settled and not yet withdrawn (debts not netted)"})
    withdrawing = fields.Integer()
    debt = fields.Integer()
    withdrawn = fields.Integer()


class Conversion(Schema):
    bindings = fields.Integer(metadata={"description": "shoppers bound through a share (current bindings)"})
    buyers = fields.Integer(metadata={"description": "of them, who bought while bound"})
    rate_bp = fields.Integer(metadata={"description": "buyers / bindings, basis points"})


class ReportOut(Schema):
    top_promoters = fields.List(fields.Nested(TopPromoter))
    liability = fields.Nested(Liability)
    conversion = fields.Nested(Conversion)
    promoters = fields.Integer()
