"""Writing events to the outbox, inside the transaction of the change (called by webhooks.handlers).

Only the event types some endpoint wants are written: which ones is a slice of the per-process
configuration cache (app/config_cache.py), so on the till's hot path a brand without webhooks pays a dict
look-up on a copy the purchase's transaction has read anyway, and no statement. When an endpoint wants the
event, the event row and one delivery row per endpoint are inserted (one statement each, for a batch of
events too); after the transaction commits, a drain is requested (webhooks.delivery). A rolled-back change
writes and sends nothing; a crash after the commit loses nothing (the rows wait, a sweep requests a drain).
"""
from __future__ import annotations

from sqlalchemy import select

from app import clock, config_cache
from app.extensions import db
from app.sql import insert_many
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

EVENT_TYPES = (
    "member.created", "member.updated", "purchase.recorded", "purchase.refunded",
    "points.credited", "points.debited", "points.expired", "coupon.issued", "coupon.used", "coupon.expired",
    "redemption.created", "redemption.fulfilled", "vip.activated", "task.completed",
)
TO_SEND = "webhooks_to_send"  # session.info: this transaction wrote events (a drain follows its commit)


def _load_subscriptions() -> dict[str, tuple[int, ...]]:
    """event type -> the endpoints that get it (active or paused: a paused endpoint's events wait for it)."""
    wanted: dict[str, list[int]] = {}
    rows = db.session.execute(select(WebhookEndpoint.id, WebhookEndpoint.events)
                              .where(WebhookEndpoint.state != "disabled").order_by(WebhookEndpoint.id))
    for endpoint_id, types in rows:
        for kind in types or ():
            wanted.setdefault(kind, []).append(endpoint_id)
    return {kind: tuple(ids) for kind, ids in wanted.items()}


subscriptions = config_cache.register("webhook_subscriptions", _load_subscriptions, (WebhookEndpoint,))


def wanted(kind: str) -> tuple[int, ...]:
    return subscriptions().get(kind, ())


def record(kind: str, items: list[tuple[int | None, dict]]) -> int:
    """Write events of one type ([(member id, data)]) in the caller's transaction; returns how many."""
    endpoints = wanted(kind)
    if not endpoints or not items:
        return 0
    now = clock.now()
    ids = insert_many(WebhookEvent.__table__, [
        {"type": kind, "member_id": member_id, "data": data, "created_at": now} for member_id, data in items],
        returning=("id",))
    insert_many(WebhookDelivery.__table__, [
        {"event_id": row.id, "endpoint_id": endpoint_id, "state": "pending", "attempts": 0, "next_attempt_at": now,
         "leased_until": None, "last_status": None, "last_error": None, "delivered_at": None, "created_at": now}
        for row in ids for endpoint_id in endpoints])
    db.session.info[TO_SEND] = True
    return len(ids)
