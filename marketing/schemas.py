"""Marketing's bodies: tags (one member or a CSV), saved audiences and their previews."""
from marshmallow import Schema, fields, validate

from app.fields import Upload
from app.pagination import ListArgs, page_schema


class TagIn(Schema):
    tag = fields.String(required=True, validate=validate.Length(min=1, max=64))


class TagQuery(Schema):
    tag = fields.String(required=True, validate=validate.Length(min=1, max=64))


class TagOut(Schema):
    tag = fields.String()
    source = fields.String()
    created_at = fields.DateTime()


class MemberTagsOut(Schema):
    member_id = fields.Integer()
    tags = fields.List(fields.Nested(TagOut))


class TagCount(Schema):
    tag = fields.String()
    auto = fields.Boolean()
    members = fields.Integer()


class TagCountsOut(Schema):
    items = fields.List(fields.Nested(TagCount))


class BulkUpload(Schema):
    """The multipart body of a bulk tag: two text fields and the CSV file."""

    tag = fields.String(required=True, validate=validate.Length(min=1, max=64))
    action = fields.String(load_default="add", validate=validate.OneOf(["add", "remove"]))
    file = Upload(required=True, metadata={"description": "CSV with a `member_id` and/or `phone` column"})


class BulkError(Schema):
    row = fields.Integer()
    value = fields.String()
    code = fields.String(metadata={"description": "invalid | not_found"})
    reason = fields.String()


class BulkOut(Schema):
    tag = fields.String()
    action = fields.String()
    rows = fields.Integer()
    members = fields.Integer()
    changed = fields.Integer()
    unchanged = fields.Integer()
    errors = fields.List(fields.Nested(BulkError))


class AudienceFilter(Schema):
    tiers = fields.List(fields.String(validate=validate.Length(min=1, max=32)), validate=validate.Length(max=50))
    tags = fields.List(fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=20))
    tags_any = fields.List(fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=20))
    lifecycle = fields.List(fields.String(), validate=validate.Length(max=10))
    rfm_segments = fields.List(fields.String(), validate=validate.Length(max=20))
    birthday_months = fields.List(fields.Integer(validate=validate.Range(min=1, max=12)),
                                  validate=validate.Length(max=12))
    points_min = fields.Integer(validate=validate.Range(min=-(2**31), max=2**31 - 1))
    points_max = fields.Integer(validate=validate.Range(min=-(2**31), max=2**31 - 1))


class AudienceIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    description = fields.String(load_default=None, validate=validate.Length(max=255))
    filter = fields.Nested(AudienceFilter, required=True)


class AudiencePatch(Schema):
    name = fields.String(validate=validate.Length(min=1, max=64))
    description = fields.String(allow_none=True, validate=validate.Length(max=255))
    filter = fields.Nested(AudienceFilter)


class SavedAudienceOut(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String(allow_none=True)
    filter = fields.Dict()
    count = fields.Integer(allow_none=True, metadata={"description": "live count (null in lists)"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class PreviewOut(Schema):
    count = fields.Integer()
    sample_member_ids = fields.List(fields.Integer())


AudiencePage = page_schema(SavedAudienceOut, "AudiencePage")


AudienceListArgs = ListArgs
