"""The marketing console's operations pages: the background job runs (refreshing themselves while open, the
failed ones with their error) and the audit log with its filters. Views over app.job_runs and app.audit, the
services of GET /admin/jobs and /admin/audit-log, with those routes' query schemas."""
from __future__ import annotations

from flask import render_template, request
from marshmallow import ValidationError as SchemaError

from app.audit import service as audit
from app.audit.schemas import AuditQuery
from app.job_runs import service as runs
from app.job_runs.schemas import JobRunQuery
from app.schedule import JOBS
from console import session
from console.blueprint import blp, hx, schema_error

MARKETING = ("marketing", "admin")
REFRESH_SECONDS = 5


def _filters(args) -> dict:
    """The filter form's query string, blank fields dropped."""
    return {name: value.strip() for name, value in args.items() if value.strip()}


def _shown(raw: dict) -> dict:
    """The filters to keep in the form and in the next page's link (the cursor is the link's own)."""
    return {name: value for name, value in raw.items() if name != "cursor"}


@blp.get("/marketing/jobs")
@session.requires(*MARKETING)
def job_runs():
    """Recent runs, newest first (`?state=failed` for the failures and their errors, `?job=`); while the
    page is open the table reloads every few seconds (htmx), so a running job's counts move."""
    raw = _filters(request.args)
    context: dict = {"filters": _shown(raw), "page": None}
    try:
        query = JobRunQuery().load(raw)
        limit, cursor = query.pop("limit"), query.pop("cursor")
        context["page"] = runs.search(query, limit, cursor)
    except SchemaError as error:
        context["error"] = schema_error(error)
    status = 422 if "error" in context else 200
    if hx():
        return render_template("console/_job_runs.html", **context), status
    return render_template("console/jobs.html", area="jobs", jobs=sorted(JOBS), latest=runs.latest_by_job(),
                           refresh=REFRESH_SECONDS, **context), status


@blp.get("/marketing/audit")
@session.requires(*MARKETING)
def audit_log():
    """Who changed what and when, with before and after; filtered by operator, action, target and time."""
    raw = _filters(request.args)
    context: dict = {"filters": _shown(raw), "page": None}
    try:
        query = AuditQuery().load(raw)
        limit, cursor = query.pop("limit"), query.pop("cursor")
        context["page"] = audit.search(query, limit, cursor)
    except SchemaError as error:
        context["error"] = schema_error(error)
    return render_template("console/audit.html", area="audit", **context), 422 if "error" in context else 200
