from marshmallow import Schema, fields, validate

from app.auth import STORE_ROLES
from app.fields import StrictInt
from app.pagination import page_schema


class ApiKeyIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    role = fields.String(required=True, validate=validate.OneOf(STORE_ROLES),
                         metadata={"description": "the till role the key acts in"})
    store = fields.String(load_default=None, validate=validate.Length(min=1, max=32),
                          metadata={"description": "store code; omitted: every store (each request names one "
                                                   "in X-Store)"})
    rate_per_minute = StrictInt(load_default=None, validate=validate.Range(min=1, max=100_000),
                                metadata={"description": "this key's own rate limit (default API_KEY_RATE_PER_MINUTE)"})


class ApiKeyRotateIn(Schema):
    grace_hours = StrictInt(load_default=24, validate=validate.Range(min=0, max=7 * 24),
                            metadata={"description": "how long the previous secret stays valid"})


class ApiKeyOut(Schema):
    id = fields.Integer()
    key_id = fields.String(metadata={"description": "public: sent in X-Api-Key"})
    name = fields.String()
    role = fields.String()
    store = fields.String(allow_none=True)
    rate_per_minute = fields.Integer()
    created_at = fields.DateTime()
    rotated_at = fields.DateTime(allow_none=True)
    previous_valid_until = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class ApiKeySecretOut(ApiKeyOut):
    secret = fields.String(metadata={"description": "shown once: store it in the POS now"})


ApiKeyPage = page_schema(ApiKeyOut, "ApiKeyPage")
