"""Import batches in and out (marshmallow)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.fields import Upload
from app.pagination import page_schema


class ImportUpload(Schema):
    """The multipart body of an upload: the file and two text fields."""

    file = Upload(required=True, metadata={"description": "CSV (header row) or JSON lines; columns in docs/api.md"})
    format = fields.String(load_default=None, validate=validate.OneOf(["csv", "jsonl"]),
                           metadata={"description": "default: from the file name (.jsonl/.ndjson/.json: JSON lines)"})
    dry_run = fields.Boolean(load_default=False, metadata={"description": "check every row, write only the report"})


class ImportBatchOut(Schema):
    id = fields.Integer()
    filename = fields.String()
    file_format = fields.String()
    source = fields.String(metadata={"description": "cli | upload"})
    dry_run = fields.Boolean()
    state = fields.String(metadata={"description": "queued | running | done | failed"})
    rows_total = fields.Integer(metadata={"description": "data rows counted before the run"})
    rows_done = fields.Integer(metadata={"description": "the last row committed (a resumed run goes on after it)"})
    percent = fields.Integer()
    imported = fields.Integer(metadata={"description": "members written (a dry run: that would be)"})
    skipped = fields.Integer(metadata={"description": "rows whose external id was already imported"})
    failed = fields.Integer(metadata={"description": "rows refused: see .../errors"})
    points = fields.Integer(metadata={"description": "opening points written (a dry run: that would be)"})
    error = fields.String(allow_none=True, metadata={"description": "why a failed batch stopped"})
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class ImportRowErrorOut(Schema):
    row_number = fields.Integer(metadata={"description": "1 = the first data row (a CSV's header not counted)"})
    external_id = fields.String(allow_none=True)
    field = fields.String()
    reason = fields.String()


ImportBatchPage = page_schema(ImportBatchOut, "ImportBatchPage")
ImportErrorPage = page_schema(ImportRowErrorOut, "ImportErrorPage")
