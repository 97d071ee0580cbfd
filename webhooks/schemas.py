from marshmallow import Schema, fields, validate

from app.fields import StrictInt
from app.pagination import ListArgs, page_schema
from webhooks.outbox import EVENT_TYPES


class EndpointIn(Schema):
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False, validate=validate.Length(max=500))
    events = fields.List(fields.String(validate=validate.OneOf(EVENT_TYPES)), required=True,
                         validate=validate.Length(min=1, max=20))
    description = fields.String(load_default="", validate=validate.Length(max=128))


class EndpointPatch(Schema):
    url = fields.Url(schemes={"http", "https"}, require_tld=False, validate=validate.Length(max=500))
    events = fields.List(fields.String(validate=validate.OneOf(EVENT_TYPES)), validate=validate.Length(min=1, max=20))
    description = fields.String(validate=validate.Length(max=128))
    active = fields.Boolean(metadata={"description": "false: disabled; true: enabled, or resumed when paused"})


class SecretRotateIn(Schema):
    grace_hours = StrictInt(load_default=24, validate=validate.Range(min=0, max=7 * 24),
                            metadata={"description": "how long deliveries are signed with the previous secret too"})


class EndpointOut(Schema):
    id = fields.Integer()
    url = fields.String()
    description = fields.String()
    events = fields.List(fields.String())
    state = fields.String(metadata={"description": "active | paused (failing too long: nothing is sent until "
                                                   "resumed) | disabled"})
    failing_since = fields.DateTime(allow_none=True)
    paused_at = fields.DateTime(allow_none=True)
    pause_reason = fields.String(allow_none=True)
    previous_valid_until = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class EndpointSecretOut(EndpointOut):
    secret = fields.String(metadata={"description": "shown once: the receiver checks signatures with it"})


class DeliveryQuery(ListArgs):
    state = fields.String(validate=validate.OneOf(("pending", "delivered", "failed")))


class DeliveryOut(Schema):
    id = fields.Integer()
    event_id = fields.Function(lambda d: f"evt_{d.event_id}")
    state = fields.String()
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime()
    last_status = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


EndpointPage = page_schema(EndpointOut, "WebhookEndpointPage")
DeliveryPage = page_schema(DeliveryOut, "WebhookDeliveryPage")
