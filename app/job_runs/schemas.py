from marshmallow import Schema, fields, validate

from app.pagination import ListArgs, page_schema


class JobRunQuery(ListArgs):
    job = fields.String(validate=validate.Length(min=1, max=64))
    state = fields.String(validate=validate.OneOf(["running", "succeeded", "failed"]))


class Counts(Schema):
    scanned = fields.Integer()
    changed = fields.Integer()
    skipped = fields.Integer()
    failed = fields.Integer()


class JobRunOut(Schema):
    id = fields.Integer()
    job = fields.String()
    run_key = fields.String(allow_none=True)
    rq_job_id = fields.String(allow_none=True)
    attempt = fields.Integer()
    state = fields.String()
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    counts = fields.Nested(Counts)
    error = fields.String(allow_none=True)


JobRunPage = page_schema(JobRunOut, "JobRunPage")
