"""The admin's webhook endpoints: register, change (events, URL, disable, resume), rotate the secret, see
the deliveries and redeliver one. Each write is audited; a secret is shown once (made and rotated)."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select, update

from app import clock
from app.api_keys import secrets
from app.audit import service as audit
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.pagination import keyset_page
from webhooks.delivery import request_drain, secret_of
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.outbox import EVENT_TYPES, TO_SEND


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise ValidationError("url", "An http(s) URL with a host and no credentials.", code="bad_webhook_url")
    return url


def _check_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown or not events:
        raise ValidationError("events", f"Known event types only, at least one: {', '.join(EVENT_TYPES)}.")
    return sorted(set(events))


def view(endpoint: WebhookEndpoint, secret: str | None = None) -> dict:
    answer = {name: getattr(endpoint, name) for name in (
        "id", "url", "description", "events", "state", "failing_since", "paused_at", "pause_reason",
        "previous_valid_until", "created_at")}
    if secret is not None:
        answer["secret"] = secret
    return answer


def _audit_view(endpoint: WebhookEndpoint) -> dict:
    return {name: value for name, value in view(endpoint).items() if name != "id"}


def create(url: str, events: list[str], description: str = "", *, audited: bool = True) -> dict:
    endpoint = WebhookEndpoint(url=_check_url(url), events=_check_events(events), description=description,
                               state="active", salt=secrets.new_salt())
    db.session.add(endpoint)
    db.session.flush()
    if audited:
        audit.record("webhook.create", "webhook_endpoint", endpoint.id, None, _audit_view(endpoint))
    db.session.commit()
    return view(endpoint, secret_of(endpoint.salt))


def _get(endpoint_id: int, *, lock: bool = False) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id, with_for_update=lock)
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def get(endpoint_id: int) -> dict:
    return view(_get(endpoint_id))


def listing(limit: int, cursor: str | None) -> dict:
    page = keyset_page(select(WebhookEndpoint), WebhookEndpoint.id, limit, cursor)
    return {"items": [view(endpoint) for endpoint in page["items"]], "next_cursor": page["next_cursor"]}


def update_endpoint(endpoint_id: int, changes: dict) -> dict:
    """url, events, description; `active`: false disables (no new events are recorded for it), true enables
    or resumes a paused endpoint (its waiting deliveries go out at once)."""
    endpoint = _get(endpoint_id, lock=True)
    before = _audit_view(endpoint)
    if "url" in changes:
        endpoint.url = _check_url(changes["url"])
    if "events" in changes:
        endpoint.events = _check_events(changes["events"])
    if "description" in changes:
        endpoint.description = changes["description"]
    if changes.get("active") is False:
        endpoint.state = "disabled"
    elif changes.get("active") is True and endpoint.state != "active":
        endpoint.state, endpoint.failing_since, endpoint.paused_at, endpoint.pause_reason = "active", None, None, None
        db.session.execute(update(WebhookDelivery).where(
            WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.state == "pending")
            .values(next_attempt_at=clock.now()))
        db.session.info[TO_SEND] = True
    audit.record("webhook.update", "webhook_endpoint", endpoint.id, before, _audit_view(endpoint))
    db.session.commit()
    return view(endpoint)


def rotate_secret(endpoint_id: int, grace_hours: int) -> dict:
    """A new secret (shown once); deliveries carry a signature by the previous one too for `grace_hours`."""
    endpoint = _get(endpoint_id, lock=True)
    before = _audit_view(endpoint)
    endpoint.previous_salt, endpoint.salt = endpoint.salt, secrets.new_salt()
    endpoint.previous_valid_until = clock.now() + timedelta(hours=grace_hours)
    audit.record("webhook.rotate_secret", "webhook_endpoint", endpoint.id, before, _audit_view(endpoint))
    db.session.commit()
    return view(endpoint, secret_of(endpoint.salt))


def deliveries(endpoint_id: int, state: str | None, limit: int, cursor: str | None) -> dict:
    _get(endpoint_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if state:
        stmt = stmt.where(WebhookDelivery.state == state)
    return keyset_page(stmt, WebhookDelivery.id, limit, cursor)


def redeliver(endpoint_id: int, delivery_id: int) -> WebhookDelivery:
    """Send one delivery again, whatever its state (a receiver that lost it asks): due now, with a fresh
    retry schedule. A delivery being sent right now (leased) is refused: 409."""
    delivery = db.session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.endpoint_id != endpoint_id:
        raise NotFound("No such delivery of this endpoint.")
    now = clock.now()
    if delivery.leased_until is not None and clock.as_utc(delivery.leased_until) > now:
        raise Conflict("This delivery is being sent right now.", code="delivery_in_flight")
    before = {"state": delivery.state, "attempts": delivery.attempts}
    delivery.state, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
    delivery.delivered_at = None
    audit.record("webhook.redeliver", "webhook_delivery", delivery.id, before,
                 {"state": "pending", "attempts": 0})
    db.session.commit()
    request_drain()
    return delivery
