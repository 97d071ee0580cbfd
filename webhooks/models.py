"""Webhook endpoints, the outbox of events, and one delivery row per (event, endpoint)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db_types import UTCDateTime
from app.extensions import db


class WebhookEndpoint(db.Model):
    """Where events go. Its signing secret is derived from `salt` (app/api_keys/secrets.py), never stored.
    state: active; paused (failed every delivery for WEBHOOK_PAUSE_AFTER: its events wait); disabled (by an
    admin: no new events are recorded for it)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(128), default="")
    events: Mapped[list] = mapped_column(JSON)  # event types wanted
    state: Mapped[str] = mapped_column(String(16), default="active")
    salt: Mapped[str] = mapped_column(String(64))
    previous_salt: Mapped[str | None] = mapped_column(String(64))  # also signs until previous_valid_until
    previous_valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first failure after the last success
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pause_reason: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class WebhookEvent(db.Model):
    """The outbox: one row per event, written in the transaction of the change it reports."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    member_id: Mapped[int | None]
    data: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)


class WebhookDelivery(db.Model):
    """One event for one endpoint. state: pending (due at next_attempt_at, unless a drain holds its lease),
    delivered, failed (every try of the retry schedule failed; an admin may redeliver it)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
                      Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a drain is sending it until then
    last_status: Mapped[int | None]  # the receiver's HTTP status
    last_error: Mapped[str | None] = mapped_column(String(255))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
