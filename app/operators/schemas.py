from marshmallow import Schema, fields, validate

from app.auth import ALL_ROLES
from app.fields import Id
from app.pagination import ListArgs, page_schema


class OperatorLoginIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class OperatorBrief(Schema):
    id = fields.Integer()
    username = fields.String()
    role = fields.String()
    store_id = fields.Integer(allow_none=True)


class OperatorOut(OperatorBrief):
    store_code = fields.Function(lambda operator: operator.store.code if operator.store else None, allow_none=True)
    active = fields.Boolean()
    created_at = fields.DateTime()


class OperatorLoginOut(Schema):
    token = fields.String()
    operator = fields.Nested(OperatorBrief)


class OperatorIn(Schema):
    username = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.-]{2,64}$"))
    password = fields.String(required=True, validate=validate.Length(min=8, max=256))
    role = fields.String(required=True, validate=validate.OneOf(ALL_ROLES))
    store = fields.String(load_default=None, validate=validate.Length(min=1, max=32),
                          metadata={"description": "store code; required for staff and managers"})


class OperatorPatch(Schema):
    active = fields.Boolean(metadata={"description": "false disables the account: its sessions stop working"})
    role = fields.String(validate=validate.OneOf(ALL_ROLES))
    store = fields.String(allow_none=True, validate=validate.Length(min=1, max=32),
                          metadata={"description": "store code"})
    password = fields.String(validate=validate.Length(min=8, max=256), metadata={"description": "a reset"})


class OperatorQuery(ListArgs):
    role = fields.String(validate=validate.OneOf(ALL_ROLES))
    store_id = Id()
    active = fields.Boolean()


OperatorPage = page_schema(OperatorOut, "OperatorPage")


class PasswordChangeIn(Schema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=256))
    new_password = fields.String(required=True, validate=validate.Length(min=8, max=256))


class StoreIn(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=128))


class StoreOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    active = fields.Boolean()


class StoreList(Schema):
    items = fields.List(fields.Nested(StoreOut))
