"""The console's import page (admins): upload the brand's customer file, follow its batch, read the refused
rows. The same service as the API's upload (onboarding.importer): a worker runs the batch, this page polls it."""
from __future__ import annotations

from flask import g, redirect, render_template, request, url_for

from app.errors import ApiError
from app.inbound import body_limit
from console import session
from console.blueprint import blp, hx
from onboarding import importer

ERROR_PAGE = 100


def _list_page(status: int = 200, **context):
    context.setdefault("batches", importer.batches_page(20, None)["items"])
    return render_template("console/imports.html", percent=importer.percent, **context), status


@blp.get("/imports")
@session.requires("admin")
def imports():
    return _list_page()


@blp.post("/imports")
@body_limit(importer.MAX_UPLOAD_BYTES)
@session.requires("admin")
def imports_upload():
    """Upload a file (optionally a dry run); the batch page then shows its progress."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _list_page(422, error_code="import_file_missing")
    fmt = request.form.get("format") or None
    try:
        batch = importer.upload(upload.stream, upload.filename, fmt, dry_run=bool(request.form.get("dry_run")),
                                operator_id=g.operator.id)
    except ApiError as error:
        return _list_page(422, error=error)
    return redirect(url_for("console.import_batch", batch_id=batch.id))


@blp.get("/imports/<int:batch_id>")
@session.requires("admin")
def import_batch(batch_id: int):
    """A batch: its progress (an htmx fragment polled while it runs) and its refused rows, a page at a time."""
    try:
        batch = importer.get_batch(batch_id)
        errors = importer.errors_page(batch_id, ERROR_PAGE, request.args.get("cursor") or None)
    except ApiError as error:
        return render_template("console/error.html", message_code=error.code), 404 if error.status == 404 else 422
    template = "console/_import_progress.html" if hx() else "console/import_batch.html"
    return render_template(template, batch=batch, percent=importer.percent(batch), errors=errors)
