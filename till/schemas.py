"""The till's bodies: earn rules (marketing), quotes, purchases and refunds (staff)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.fields import MAX_FEN, MAX_POINTS, Id, StrictInt, code
from app.pagination import ListArgs, page_schema
from members.schemas import TierRef


class EarnRuleIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=128))
    percent = StrictInt(required=True, validate=validate.Range(min=100, max=1000),
                        metadata={"description": "multiplier in percent: 200 = double points"})
    tiers = fields.List(fields.String(validate=validate.Length(min=1, max=32)), load_default=None,
                        validate=validate.Length(max=50))
    categories = fields.List(fields.String(validate=validate.Length(min=1, max=64)), load_default=None,
                             validate=validate.Length(max=100))
    skus = fields.List(fields.String(validate=validate.Length(min=1, max=64)), load_default=None,
                       validate=validate.Length(max=500))
    weekdays = fields.List(StrictInt(validate=validate.Range(min=1, max=7)), load_default=None,
                           metadata={"description": "ISO weekdays, 1 = Monday; 会员日 e.g. [3]"})
    start_date = fields.Date(load_default=None)
    end_date = fields.Date(load_default=None)
    priority = StrictInt(load_default=0, validate=validate.Range(min=0, max=1000))
    stackable = fields.Boolean(load_default=True)
    cap_per_order = StrictInt(load_default=None, allow_none=True, validate=validate.Range(min=0, max=MAX_POINTS))
    cap_per_day = StrictInt(load_default=None, allow_none=True, validate=validate.Range(min=0, max=MAX_POINTS))
    active = fields.Boolean(load_default=True)


class EarnRulePatch(Schema):
    name = fields.String(validate=validate.Length(min=1, max=128))
    percent = StrictInt(validate=validate.Range(min=100, max=1000))
    tiers = fields.List(fields.String(validate=validate.Length(min=1, max=32)), allow_none=True)
    categories = fields.List(fields.String(validate=validate.Length(min=1, max=64)), allow_none=True)
    skus = fields.List(fields.String(validate=validate.Length(min=1, max=64)), allow_none=True)
    weekdays = fields.List(StrictInt(validate=validate.Range(min=1, max=7)), allow_none=True)
    start_date = fields.Date(allow_none=True)
    end_date = fields.Date(allow_none=True)
    priority = StrictInt(validate=validate.Range(min=0, max=1000))
    stackable = fields.Boolean()
    cap_per_order = StrictInt(allow_none=True, validate=validate.Range(min=0, max=MAX_POINTS))
    cap_per_day = StrictInt(allow_none=True, validate=validate.Range(min=0, max=MAX_POINTS))
    active = fields.Boolean()


class RuleWarning(Schema):
    code = fields.String(metadata={"description": "shadowed: an exclusive rule ranked above matches every line"})
    rule_id = fields.Integer(metadata={"description": "the rule that shadows this one"})
    rule_name = fields.String()
    priority = fields.Integer(metadata={"description": "the shadowing rule's priority"})
    message = fields.String()


class EarnRuleOut(Schema):
    id = fields.Integer()
    name = fields.String()
    percent = fields.Integer()
    tiers = fields.List(fields.String(), allow_none=True)
    categories = fields.List(fields.String(), allow_none=True)
    skus = fields.List(fields.String(), allow_none=True)
    weekdays = fields.List(fields.Integer(), allow_none=True)
    start_date = fields.Date(allow_none=True)
    end_date = fields.Date(allow_none=True)
    priority = fields.Integer()
    stackable = fields.Boolean()
    cap_per_order = fields.Integer(allow_none=True)
    cap_per_day = fields.Integer(allow_none=True)
    active = fields.Boolean()
    warnings = fields.List(fields.Nested(RuleWarning), metadata={
        "description": "now, in the list and after a create or update: an empty list when the rule can apply"})


class EarnRuleQuery(ListArgs):
    active = fields.Boolean()


EarnRulePage = page_schema(EarnRuleOut, "EarnRulePage")


class CartItem(Schema):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=64))
    qty = StrictInt(required=True, validate=validate.Range(min=1, max=999))


class QuoteIn(Schema):
    member_code = fields.String(validate=validate.Length(min=1, max=32))
    member_id = Id()
    items = fields.List(fields.Nested(CartItem), required=True, validate=validate.Length(min=1, max=100))
    coupon_ids = fields.List(Id(), load_default=None,
                             validate=validate.Length(max=10),
                             metadata={"description": "omitted in a quote: the best coupons are suggested"})
    points_to_use = StrictInt(load_default=None, validate=validate.Range(min=0, max=MAX_POINTS))

    @validates_schema
    def _one_member(self, data, **kwargs):
        if ("member_code" in data) == ("member_id" in data):
            raise ValidationError("Give exactly one of member_code and member_id.", "member_code")


class PurchaseIn(QuoteIn):
    order_no = fields.String(required=True, validate=code())
    paid = StrictInt(required=True, validate=validate.Range(min=0, max=MAX_FEN),
                     metadata={"description": "fen paid in money; must equal the quote's payable"})
    coupon_ids = fields.List(Id(), load_default=None,
                             validate=validate.Length(max=10),
                             metadata={"description": "the coupons to use (none when omitted); with points_to_use "
                                                      "> 0, needs member_code or a manager's override_reason"})
    override_reason = fields.String(validate=validate.Length(min=1, max=200), metadata={
        "description": "managers only: spend the points or use the coupons of a member named by member_id, "
                       "without their code; written to the audit log"})

    @validates_schema
    def _override_by_id(self, data, **kwargs):
        if "override_reason" in data and "member_id" not in data:
            raise ValidationError("override_reason goes with member_id: with the member's code, none is needed.",
                                  "override_reason")


class QuoteLine(Schema):
    sku = fields.String()
    name = fields.String()
    category = fields.String(allow_none=True)
    qty = fields.Integer()
    list_price = fields.Integer()
    unit_price = fields.Integer(metadata={"description": "the lowest of list, tier and VIP price"})
    total = fields.Integer()


class AppliedRule(Schema):
    type = fields.String(metadata={"description": "base | membership | earn_rule: their points add up to "
                                                   "points_to_earn"})
    id = fields.Integer(allow_none=True)
    name = fields.String()
    percent = fields.Integer()
    points = fields.Integer(metadata={"description": "points this rule added"})
    capped = fields.Boolean()


class QuoteOut(Schema):
    member_id = fields.Integer()
    lines = fields.List(fields.Nested(QuoteLine))
    subtotal = fields.Integer()
    coupon_ids = fields.List(fields.Integer())
    coupons = fields.List(fields.Dict())
    coupon_discount = fields.Integer()
    points_balance = fields.Integer()
    points_usable = fields.Integer(metadata={"description": "the most points this order may use (balance and cap)"})
    points_usable_value = fields.Integer(metadata={"description": "fen those points would pay: what the clerk "
                                                                  "offers before the shopper decides"})
    points_used = fields.Integer()
    points_value = fields.Integer(metadata={"description": "fen paid with points"})
    payable = fields.Integer()
    points_to_earn = fields.Integer()
    points_pending_until = fields.DateTime(allow_none=True)
    applied_rules = fields.List(fields.Nested(AppliedRule))


class TierChange(Schema):
    from_ = fields.String(data_key="from", attribute="from", allow_none=True)
    to = fields.String()


class AttributedPromoter(Schema):
    """The promoter a bound shopper's purchase is attributed to (distribution), shown to the clerk."""

    id = fields.Integer()
    code = fields.String()
    nickname = fields.String(allow_none=True)
    commission = fields.Integer(metadata={"description": "fen, pending until the return window ends"})


class PurchaseOut(Schema):
    order_no = fields.String()
    purchase_id = fields.Integer()
    subtotal = fields.Integer()
    coupon_discount = fields.Integer()
    paid = fields.Integer()
    points_earned = fields.Integer()
    points_pending = fields.Boolean(metadata={"description": "earned points wait for the return window"})
    points_spent = fields.Integer()
    points_value = fields.Integer()
    growth_added = fields.Integer()
    tier = fields.Nested(TierRef)
    tier_change = fields.Nested(TierChange, allow_none=True)
    balance = fields.Integer()
    applied_rules = fields.List(fields.Nested(AppliedRule))
    promoter = fields.Nested(AttributedPromoter, metadata={"description": "only when the sale is attributed"})


class RefundLine(Schema):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=64))
    qty = StrictInt(required=True, validate=validate.Range(min=1, max=999))


class RefundIn(Schema):
    """Exactly one way of saying what comes back (README "Refunds at the till"): `amount` of money (the
    points follow in proportion), `lines` of goods (money and points follow their share of the order), or
    `full` (everything left). An order paid with points only has no money to count, so lines or full."""

    refund_no = fields.String(required=True, validate=code())
    amount = StrictInt(validate=validate.Range(min=1, max=MAX_FEN),
                       metadata={"description": "fen of money refunded; used and earned points follow in proportion"})
    lines = fields.List(fields.Nested(RefundLine), validate=validate.Length(min=1, max=100),
                        metadata={"description": "goods brought back; money and points follow their share of "
                                                 "the order's value (line totals after member prices)"})
    full = fields.Boolean(metadata={"description": "true: give back everything not yet refunded"})

    @validates_schema
    def _one_way(self, data, **kwargs):
        given = [name for name in ("amount", "lines") if name in data] + (["full"] if data.get("full") else [])
        if len(given) != 1:
            raise ValidationError("Give exactly one of amount, lines and full: true.", "amount")


class RefundOut(Schema):
    refund_no = fields.String()
    order_no = fields.String()
    amount = fields.Integer(metadata={"description": "fen of money refunded by this refund"})
    lines = fields.List(fields.Nested(RefundLine), metadata={"description": "goods this refund took back"})
    points_reversed = fields.Integer(metadata={"description": "earned points taken back (may create debt)"})
    points_returned = fields.Integer(metadata={"description": "used points given back with their expiry"})
    growth_removed = fields.Integer()
    full = fields.Boolean(metadata={"description": "the whole order (money and points) has now been given back"})
    balance = fields.Integer()


class OrderLine(Schema):
    sku = fields.String()
    name = fields.String()
    qty = fields.Integer()
    unit_price = fields.Integer()
    total = fields.Integer()
    refunded_qty = fields.Integer(metadata={"description": "goods brought back so far"})


class OrderOut(Schema):
    order_no = fields.String()
    member_id = fields.Integer()
    created_at = fields.DateTime()
    subtotal = fields.Integer()
    coupon_discount = fields.Integer()
    points_used = fields.Integer()
    points_value = fields.Integer()
    paid = fields.Integer()
    points_earned = fields.Integer()
    refunded_amount = fields.Integer(metadata={"description": "fen of money given back so far"})
    refundable_amount = fields.Integer(metadata={"description": "fen of money that can still be refunded"})
    refunded_full = fields.Boolean()
    lines = fields.List(fields.Nested(OrderLine))
    receipt = fields.Nested(PurchaseOut, metadata={"description": "the purchase's answer as first given"})
