from marshmallow import Schema, fields

from app.fields import DayOrMoment, Id
from app.pagination import ListArgs, page_schema


class AuditQuery(ListArgs):
    actor_id = Id(strict=False)
    action = fields.String()
    target_type = fields.String()
    target_id = fields.String()
    since = DayOrMoment("start", metadata={"description": "a moment with its offset, or a day: from its start"})
    until = DayOrMoment("end", metadata={"description": "a moment with its offset, or a day: through its end"})


class AuditEntry(Schema):
    id = fields.Integer()
    actor_kind = fields.String()
    actor_id = fields.Integer(allow_none=True)
    actor_name = fields.String(allow_none=True)
    action = fields.String()
    target_type = fields.String()
    target_id = fields.String(allow_none=True)
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)
    request_id = fields.String(allow_none=True)
    created_at = fields.DateTime()


AuditPage = page_schema(AuditEntry, "AuditPage")
