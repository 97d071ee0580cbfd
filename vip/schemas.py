"""Paid-VIP bodies. The VIP price column lives on products (`member_prices.vip`), not here."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.fields import Id, patch_of
from members.schemas import CODE_FORMAT, DisplayBenefit, PackItem


class VipDay(Schema):
    day_of_month = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=31))
    multiplier_percent = fields.Integer(required=True, strict=True, validate=validate.Range(min=100, max=1000),
                                        metadata={"description": "extra multiplier on that day, 200 = x2"})


class VipBenefits(Schema):
    points_multiplier_percent = fields.Integer(load_default=100, strict=True,
                                               validate=validate.Range(min=100, max=1000))
    monthly_pack = fields.List(fields.Nested(PackItem), load_default=list, validate=validate.Length(max=20))
    vip_day = fields.Nested(VipDay, allow_none=True, load_default=None)
    display = fields.List(fields.Nested(DisplayBenefit), load_default=list, validate=validate.Length(max=20))


class VipPlanIn(Schema):
    code = fields.String(required=True, validate=[validate.Length(min=1, max=32), CODE_FORMAT])
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    price = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100_000_000),
                           metadata={"description": "fen"})
    duration_days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=3660))
    benefits = fields.Nested(VipBenefits, load_default=dict)
    active = fields.Boolean(load_default=True)


VipPlanPatch = patch_of(VipPlanIn, "VipPlanPatch")


class VipPlanOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    price = fields.Integer(metadata={"description": "fen"})
    duration_days = fields.Integer()
    benefits = fields.Dict()
    active = fields.Boolean()


class VipPlanList(Schema):
    items = fields.List(fields.Nested(VipPlanOut))


class VipOrderIn(Schema):
    plan_id = Id(required=True)


class PaymentParams(Schema):
    """What the mini-program passes to wx.requestPayment."""

    appId = fields.String()
    timeStamp = fields.String()
    nonceStr = fields.String()
    package = fields.String()
    signType = fields.String()
    paySign = fields.String()


class VipOrderOut(Schema):
    order_no = fields.String()
    plan_id = fields.Integer()
    amount = fields.Integer(metadata={"description": "fen"})
    duration_days = fields.Integer()
    state = fields.String(metadata={"description": "created | paid"})
    paid_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class VipOrderCreated(Schema):
    order = fields.Nested(VipOrderOut)
    payment = fields.Nested(PaymentParams)
