"""What was (or will be) sent, and who declined which template.

`notifications.idempotency_key` is unique: the database, not the code, makes a message go out at most once.
A member who answered 43101 (not subscribed / declined) for a template is remembered in
`notification_declines` and never sent that template again.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db_types import UTCDateTime
from app.extensions import db


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    template_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    page: Mapped[str | None] = mapped_column(String(255))
    # pending -> sending -> sent | declined | retry -> ... | failed; skipped (declined before, no openid);
    # expired (past its kind's shelf life, never sent)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    errcode: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a `retry` row is due from then


class NotificationDecline(db.Model):
    __tablename__ = "notification_declines"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    template_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    errcode: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
