"""Products and their member prices, in and out."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.fields import MAX_FEN, StrictInt, code
from app.pagination import ListArgs, page_schema


class ProductIn(Schema):
    sku = fields.String(required=True, validate=code())
    name = fields.String(required=True, validate=validate.Length(min=1, max=128))
    category = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    list_price = StrictInt(required=True, validate=validate.Range(min=0, max=MAX_FEN))
    member_prices = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=32)),
                                values=StrictInt(validate=validate.Range(min=0, max=MAX_FEN)), load_default=dict,
                                metadata={"description": '{"<tier code>": fen, "vip": fen}'})
    active = fields.Boolean(load_default=True)


class ProductPatch(Schema):
    name = fields.String(validate=validate.Length(min=1, max=128))
    category = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    list_price = StrictInt(validate=validate.Range(min=0, max=MAX_FEN))
    member_prices = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=32)),
                                values=StrictInt(validate=validate.Range(min=0, max=MAX_FEN)))
    active = fields.Boolean()


class MemberPriceIn(Schema):
    price = StrictInt(required=True, validate=validate.Range(min=0, max=MAX_FEN),
                      metadata={"description": "fen; at most the list price"})


class ProductOut(Schema):
    sku = fields.String()
    name = fields.String()
    category = fields.String(allow_none=True)
    list_price = fields.Integer()
    member_prices = fields.Dict(keys=fields.String(), values=fields.Integer())
    active = fields.Boolean()


class ProductQuery(ListArgs):
    active = fields.Boolean()
    category = fields.String()


ProductPage = page_schema(ProductOut, "ProductPage")


class TillProductQuery(Schema):
    q = fields.String(required=True, validate=validate.Length(min=1, max=64),
                      metadata={"description": "part of a SKU or a name; an exact SKU comes first"})
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=50))


class TillProductOut(Schema):
    sku = fields.String()
    name = fields.String()
    category = fields.String(allow_none=True)
    list_price = fields.Integer()
    member_prices = fields.Dict(keys=fields.String(), values=fields.Integer())


class TillProductList(Schema):
    items = fields.List(fields.Nested(TillProductOut))
