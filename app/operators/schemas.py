from marshmallow import Schema, fields, validate


class OperatorLoginIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class OperatorOut(Schema):
    id = fields.Integer()
    username = fields.String()
    role = fields.String()
    store_id = fields.Integer(allow_none=True)


class OperatorLoginOut(Schema):
    token = fields.String()
    operator = fields.Nested(OperatorOut)


class StoreOut(Schema):
    code = fields.String()
    name = fields.String()


class StoreList(Schema):
    items = fields.List(fields.Nested(StoreOut))
