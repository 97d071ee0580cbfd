"""Admin routes of the import of existing customers: upload a file, follow its batch, read its report."""
from __future__ import annotations

from flask.views import MethodView
from marshmallow import RAISE

from app.auth import current_identity, operator_required
from app.inbound import body_limit
from app.openapi import Blueprint as UploadBlueprint
from app.pagination import ListArgs
from onboarding import importer
from onboarding.schemas import ImportBatchOut, ImportBatchPage, ImportErrorPage, ImportUpload

blp = UploadBlueprint("imports", __name__, url_prefix="/api/v1/admin/imports",
                      description="Import of the brand's existing customers")
admin_only = operator_required("admin")


def _out(batch) -> dict:
    return {**{column.key: getattr(batch, column.key) for column in batch.__table__.columns},
            "percent": importer.percent(batch)}


@blp.route("")
class Imports(MethodView):
    @body_limit(importer.MAX_UPLOAD_BYTES)
    @admin_only
    @blp.arguments(ImportUpload, location="multipart")
    @blp.response(202, ImportBatchOut)
    def post(self, body):
        """Upload a CSV or JSON-lines file of customers; a worker imports it (poll the batch). The same file
        while its batch is unfinished resumes that batch; a refused file (not UTF-8, unknown columns) is a 422
        before anything is written."""
        upload = body["file"]
        batch = importer.upload(upload.stream, upload.filename or "upload", body["format"], dry_run=body["dry_run"],
                                operator_id=current_identity().id)
        return _out(batch)

    @admin_only
    @blp.arguments(ListArgs, location="query", unknown=RAISE)
    @blp.response(200, ImportBatchPage)
    def get(self, args):
        """Import batches, newest first."""
        page = importer.batches_page(args["limit"], args["cursor"])
        return {**page, "items": [_out(batch) for batch in page["items"]]}


@blp.route("/<int:batch_id>")
class ImportView(MethodView):
    @admin_only
    @blp.response(200, ImportBatchOut)
    def get(self, batch_id: int):
        """One batch and its progress."""
        return _out(importer.get_batch(batch_id))


@blp.route("/<int:batch_id>/errors")
class ImportErrors(MethodView):
    @admin_only
    @blp.arguments(ListArgs, location="query", unknown=RAISE)
    @blp.response(200, ImportErrorPage)
    def get(self, args, batch_id: int):
        """The rows a batch refused, in row order: row number, field, reason."""
        return importer.errors_page(batch_id, args["limit"], args["cursor"])


blueprints = [blp]
