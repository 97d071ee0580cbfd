"""Points-mall request and response bodies."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from app.fields import Id, code, patch_of
from app.pagination import ListArgs
from mall.models import ITEM_KINDS, LIMIT_PERIODS, MAX_STOCK, REDEMPTION_STATES
from mall.service import MAX_QUANTITY

MAX_POINTS = 10_000_000


class CatalogItemIn(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9_-]{1,32}$",
                                                                  error="Lowercase letters, digits, - and _."))
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    description = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=255))
    image_url = fields.URL(load_default=None, allow_none=True, validate=validate.Length(max=512))
    kind = fields.String(required=True, validate=validate.OneOf(ITEM_KINDS))
    coupon_template_id = Id(load_default=None, allow_none=True)
    points_price = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_POINTS))
    cash_price = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_POINTS),
                                metadata={"description": "fen, paid at the till on pickup"})
    stock = fields.Integer(required=True, validate=validate.Range(min=0, max=MAX_STOCK))
    per_member_limit = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=10_000))
    limit_period = fields.String(load_default="ever", validate=validate.OneOf(LIMIT_PERIODS))
    tiers = fields.List(fields.String(validate=validate.Length(min=1, max=32)), load_default=list,
                        validate=validate.Length(max=20), metadata={"description": "tier codes; empty = all"})
    starts_at = fields.AwareDateTime(load_default=None, allow_none=True)
    ends_at = fields.AwareDateTime(load_default=None, allow_none=True)
    active = fields.Boolean(load_default=True)
    display_order = fields.Integer(load_default=0, validate=validate.Range(min=-10_000, max=10_000))


class StockIn(Schema):
    delta = fields.Integer(required=True, strict=True, validate=[validate.Range(min=-MAX_STOCK, max=MAX_STOCK),
                                                                 validate.NoneOf([0], error="Must not be zero.")],
                           metadata={"description": "added to the stock (negative: written off)"})


# PATCH: any subset; the code stays.
CatalogItemPatch = patch_of(CatalogItemIn, "CatalogItemPatch", exclude=("code",))


class CatalogItemOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    description = fields.String(allow_none=True)
    image_url = fields.String(allow_none=True)
    kind = fields.String()
    coupon_template_id = fields.Integer(allow_none=True)
    points_price = fields.Integer()
    cash_price = fields.Integer()
    stock = fields.Integer()
    per_member_limit = fields.Integer(allow_none=True)
    limit_period = fields.String()
    tiers = fields.List(fields.String())
    starts_at = fields.DateTime(allow_none=True)
    ends_at = fields.DateTime(allow_none=True)
    active = fields.Boolean()
    display_order = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ShopItem(Schema):
    id = fields.Integer(attribute="item.id")
    name = fields.String(attribute="item.name")
    description = fields.String(attribute="item.description", allow_none=True)
    image_url = fields.String(attribute="item.image_url", allow_none=True)
    kind = fields.String(attribute="item.kind")
    points_price = fields.Integer(attribute="item.points_price")
    cash_price = fields.Integer(attribute="item.cash_price")
    stock = fields.Integer(attribute="item.stock")
    per_member_limit = fields.Integer(attribute="item.per_member_limit", allow_none=True)
    limit_period = fields.String(attribute="item.limit_period")
    remaining_limit = fields.Integer(allow_none=True)
    redeemable = fields.Boolean()
    reasons = fields.List(fields.String(), metadata={
        "description": "why not: tier_not_allowed, out_of_stock, insufficient_points, points_in_debt, limit_reached"})


class ShopItemList(Schema):
    items = fields.List(fields.Nested(ShopItem))


class RedeemIn(Schema):
    item_id = Id(required=True)
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_QUANTITY))
    store_code = fields.String(validate=code(32), metadata={
        "description": "pickup items: the store where the member collects the gift; only its staff hand it over"})


class IdempotencyHeader(Schema):
    class Meta:
        unknown = EXCLUDE

    idempotency_key = fields.String(data_key="Idempotency-Key", load_default=None,
                                    validate=validate.Length(min=1, max=64))

    @validates_schema
    def _printable(self, data: dict, **kwargs) -> None:
        key = data.get("idempotency_key")
        if key is not None and not key.isprintable():
            raise ValidationError("Must be printable.", "Idempotency-Key")


class RedemptionOut(Schema):
    id = fields.Integer()
    item_id = fields.Integer()
    item_name = fields.String(attribute="item.name")
    kind = fields.String(attribute="item.kind")
    quantity = fields.Integer()
    points_total = fields.Integer()
    cash_total = fields.Integer(metadata={"description": "fen to pay at pickup"})
    state = fields.String(metadata={"description": "awaiting_pickup | fulfilled | cancelled | issued (coupon)"})
    coupon_ids = fields.List(fields.Raw())
    created_at = fields.DateTime()
    fulfilled_at = fields.DateTime(allow_none=True)
    pickup_store_code = fields.String(allow_none=True,
                                      metadata={"description": "where the gift is handed over (pickup items)"})
    fulfilled_store_id = fields.Integer(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    cancelled_by = fields.String(allow_none=True)


class RedemptionSearchArgs(ListArgs):
    member_id = Id(strict=False, load_default=None)
    item_id = Id(strict=False, load_default=None)
    state = fields.String(load_default=None, validate=validate.OneOf(REDEMPTION_STATES))


class PickupArgs(ListArgs):
    member_id = Id(strict=False, load_default=None,
                   metadata={"description": "the member id the scan returned; without it, my store's queue"})
