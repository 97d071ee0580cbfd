"""The admin's integrations page: POS API keys (create with the secret shown once, rotate, revoke) and webhook
endpoints (state, a paused one's reason, deliveries by state; disable, resume). Thin views over the services of
the JSON API (app/api_keys, webhooks); refusals are shown through console.messages."""
from __future__ import annotations

from flask import render_template, request
from sqlalchemy import func, select

from app.api_keys import service as api_keys
from app.errors import ApiError
from app.extensions import db
from app.operators import service as operators
from console import session
from console.blueprint import blp
from webhooks import endpoints
from webhooks.models import WebhookDelivery


def _delivery_counts() -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {}
    for endpoint_id, state, n in db.session.execute(
            select(WebhookDelivery.endpoint_id, WebhookDelivery.state, func.count())
            .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.state)):
        counts.setdefault(endpoint_id, {})[state] = n
    return counts


def _page(status: int = 200, **context):
    context.setdefault("keys", api_keys.listing(100, None)["items"])
    context.setdefault("endpoints", endpoints.listing(100, None)["items"])
    context.setdefault("stores", operators.list_stores())
    context["delivery_counts"] = _delivery_counts()
    return render_template("console/integrations.html", **context), status


@blp.route("/admin/integrations", methods=["GET", "POST"])
@session.requires("admin")
def admin_integrations():
    """GET: the page; POST: a new API key, its secret shown on this answer only."""
    if request.method == "GET":
        return _page()
    form = request.form
    try:
        created = api_keys.create(form.get("name", "").strip()[:64] or "POS", form.get("role", ""),
                                  form.get("store") or None)
    except ApiError as error:
        return _page(422, error=error)
    return _page(created=created)


@blp.post("/admin/integrations/keys/<int:key_id>")
@session.requires("admin")
def admin_api_key(key_id: int):
    """rotate (the previous secret works 24 h more) or revoke."""
    try:
        if request.form.get("action") == "rotate":
            return _page(created=api_keys.rotate(key_id, 24))
        api_keys.revoke(key_id)
    except ApiError as error:
        return _page(422, error=error)
    return _page(notice="已吊销")


@blp.post("/admin/integrations/webhooks/<int:endpoint_id>")
@session.requires("admin")
def admin_webhook(endpoint_id: int):
    """disable, or enable / resume a paused endpoint (its waiting deliveries go at once)."""
    active = request.form.get("action") == "resume"
    try:
        endpoints.update_endpoint(endpoint_id, {"active": active})
    except ApiError as error:
        return _page(422, error=error)
    return _page(notice="已恢复推送" if active else "已停用")
