
from marshmallow import Schema, fields, validate

FORMAT = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]),
                       metadata={"description": "`csv` answers text/csv"})


class RangeArgs(Schema):
    from_ = fields.Date(data_key="from", load_default=None, metadata={"description": "business day, default to-29"})
    to = fields.Date(load_default=None, metadata={"description": "business day, default today"})
    format = FORMAT


class LimitArgs(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    format = FORMAT


class RfmArgs(LimitArgs):
    segment = fields.String(load_default=None)


class MembersFigures(Schema):
    total = fields.Integer()
    new = fields.Integer()


class TierFigures(Schema):
    tier = fields.String(allow_none=True)
    count = fields.Integer()
    gmv = fields.Integer()


class RefundFigures(Schema):
    count = fields.Integer()
    amount = fields.Integer()


class PurchaseFigures(Schema):
    count = fields.Integer()
    gmv = fields.Integer(metadata={"description": "fen paid in money"})
    refunds = fields.Nested(RefundFigures)
    net_gmv = fields.Integer()
    by_tier = fields.List(fields.Nested(TierFigures))


class PointsFigures(Schema):
    issued = fields.Integer(metadata={"description": "earn + grant + positive adjust"})
    returned = fields.Integer(metadata={"description": "spent points given back (refunds, cancellations)"})
    spent = fields.Integer()
    expired = fields.Integer()
    reversed = fields.Integer(metadata={"description": "earned points taken back by refunds"})
    adjusted_out = fields.Integer()
    outstanding = fields.Integer(metadata={"description": "ledger sum at the end of `to`"})
    liability = fields.Integer(metadata={"description": "outstanding at the policy's points value, fen"})


class CouponFigures(Schema):
    issued = fields.Integer()
    used = fields.Integer()
    expired = fields.Integer()
    use_rate = fields.Float()


class InviteFigures(Schema):
    count = fields.Integer()
    converted = fields.Integer()


class SummaryOut(Schema):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    members = fields.Nested(MembersFigures)
    active_members = fields.Integer()
    purchases = fields.Nested(PurchaseFigures)
    repurchase_rate = fields.Float()
    repeat_purchasers = fields.Integer()
    points = fields.Nested(PointsFigures)
    coupons = fields.Nested(CouponFigures)
    redemptions = fields.Integer()
    checkins = fields.Integer()
    invites = fields.Nested(InviteFigures)
    live_days = fields.List(fields.Date(), metadata={"description": "days computed live (not rolled up yet)"})


class DailyItem(Schema):
    day = fields.Date()
    members_total = fields.Integer()
    members_new = fields.Integer()
    active_members = fields.Integer()
    purchases_count = fields.Integer()
    gmv = fields.Integer()
    refunds_count = fields.Integer()
    refunds_amount = fields.Integer()
    repurchase_rate = fields.Float()
    points_issued = fields.Integer()
    points_returned = fields.Integer()
    points_spent = fields.Integer()
    points_expired = fields.Integer()
    points_reversed = fields.Integer()
    points_adjusted_out = fields.Integer()
    points_outstanding = fields.Integer()
    liability = fields.Integer()
    coupons_issued = fields.Integer()
    coupons_used = fields.Integer()
    coupons_expired = fields.Integer()
    redemptions = fields.Integer()
    checkins = fields.Integer()
    invites_count = fields.Integer()
    invites_converted = fields.Integer()
    coupon_use_rate = fields.Float(metadata={"description": "coupons used / issued that day"})
    by_tier = fields.List(fields.Nested(TierFigures), metadata={"description": "purchases and GMV by the buyer's tier"})


class DailyOut(Schema):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    items = fields.List(fields.Nested(DailyItem))
    live_days = fields.List(fields.Date())


class SegmentCell(Schema):
    segment = fields.String()
    members = fields.Integer()
    monetary = fields.Integer()
    share = fields.Float()


class RfmMember(Schema):
    member_id = fields.Integer()
    r_score = fields.Integer()
    f_score = fields.Integer()
    m_score = fields.Integer()
    segment = fields.String()
    frequency = fields.Integer()
    monetary = fields.Integer()
    spend_12m = fields.Integer()
    last_purchase_at = fields.DateTime()
    super_user = fields.Boolean()


class RfmCell(Schema):
    r = fields.Integer(metadata={"description": "recency score 1-5 (5: bought most recently)"})
    f = fields.Integer(metadata={"description": "frequency score 1-5"})
    segment = fields.String()
    members = fields.Integer()


class RfmOut(Schema):
    computed_on = fields.Date(allow_none=True)
    computed_at = fields.DateTime(allow_none=True, metadata={"description": "when the segments job computed these"})
    members_with_purchases = fields.Integer()
    segments = fields.List(fields.Nested(SegmentCell))
    grid = fields.List(fields.Nested(RfmCell), metadata={"description": "25 cells, R 5..1 by F 1..5"})
    members = fields.List(fields.Nested(RfmMember))


class SuperUsersOut(Schema):
    computed_on = fields.Date(allow_none=True)
    computed_at = fields.DateTime(allow_none=True, metadata={"description": "when the segments job computed these"})
    spenders_12m = fields.Integer()
    super_users = fields.Integer()
    revenue_12m = fields.Integer()
    super_revenue_12m = fields.Integer()
    revenue_share = fields.Float()
    threshold = fields.Integer(metadata={"description": "smallest 12-month spend among the super users, fen"})
    top = fields.List(fields.Nested(RfmMember))


class KocItem(Schema):
    rank = fields.Integer()
    member_id = fields.Integer()
    nickname = fields.String(allow_none=True)
    invites = fields.Integer()
    converted = fields.Integer()
    conversion_rate = fields.Float()
    posts = fields.Integer()


class KocOut(Schema):
    computed_on = fields.Date(allow_none=True)
    computed_at = fields.DateTime(allow_none=True, metadata={"description": "when the segments job computed these"})
    items = fields.List(fields.Nested(KocItem))


class LifecycleSettingsSchema(Schema):
    new_days = fields.Integer(validate=validate.Range(min=1, max=3650))
    active_days = fields.Integer(validate=validate.Range(min=1, max=3650))
    lapsed_days = fields.Integer(validate=validate.Range(min=1, max=3650))


class LifecycleOut(Schema):
    stages = fields.Dict(keys=fields.String(), values=fields.Integer())
    settings = fields.Nested(LifecycleSettingsSchema)


class RecomputeOut(Schema):
    job = fields.String()
    run_key = fields.String()
    job_id = fields.String()
    queued = fields.Boolean(metadata={"description": "false: the same request was queued a moment ago"})
