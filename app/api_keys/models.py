"""Server-to-server API keys: a store's POS (or another of the brand's systems) calling the API without a
clerk's password (app/api_keys/service.py says how a key is checked)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.db_types import UTCDateTime
from app.extensions import db
from app.operators.models import Store


class ApiKey(db.Model):
    """One key. The secret itself is never stored: `salt` (random, per key and per rotation) and the
    server's integration secret derive it (app/api_keys/secrets.py), so a copy of this table signs nothing."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(40), unique=True)  # public: sent in X-Api-Key
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # a store role: staff | manager
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))  # None: every store (X-Store names one)
    salt: Mapped[str] = mapped_column(String(64))
    previous_salt: Mapped[str | None] = mapped_column(String(64))  # the secret before the last rotation...
    previous_valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # ...accepted until then
    rate_per_minute: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    store: Mapped[Store | None] = relationship()
