"""Catalogue items and redemptions.

Stock never goes below zero: the column has a CHECK and redemptions take it with a conditional
UPDATE ... WHERE stock >= qty. An `Idempotency-Key` is unique per member, so a retried POST finds the first
redemption instead of making a second one.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.db_types import UTCDateTime
from app.extensions import db
from app.operators.models import Store

ITEM_KINDS = ("pickup", "coupon")
LIMIT_PERIODS = ("day", "week", "month", "ever")
MAX_STOCK = 10_000_000  # an item's stock, far inside the integer column
REDEMPTION_STATES = ("awaiting_pickup", "fulfilled", "cancelled", "issued")


class CatalogItem(db.Model):
    __tablename__ = "catalog_items"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("points_price > 0", name="points_price_positive"),
        CheckConstraint("cash_price >= 0", name="cash_price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(255))
    image_url: Mapped[str | None] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(8))  # pickup | coupon
    coupon_template_id: Mapped[int | None]
    points_price: Mapped[int]
    cash_price: Mapped[int] = mapped_column(default=0)  # fen, paid at the till on pickup
    stock: Mapped[int] = mapped_column(default=0)
    per_member_limit: Mapped[int | None]  # None: no limit
    limit_period: Mapped[str] = mapped_column(String(8), default="ever")
    tiers: Mapped[list] = mapped_column(JSON, default=list)  # tier codes; empty = every tier
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(default=True)
    display_order: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)


class Redemption(db.Model):
    __tablename__ = "redemptions"
    __table_args__ = (
        UniqueConstraint("member_id", "idempotency_key"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_redemptions_member_id_id", "member_id", "id"),
        Index("ix_redemptions_item_member", "item_id", "member_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("catalog_items.id"))
    quantity: Mapped[int]
    points_total: Mapped[int]
    cash_total: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(String(16))
    spend_entry_id: Mapped[int | None] = mapped_column(ForeignKey("points_ledger.id"))
    restore_entry_id: Mapped[int | None] = mapped_column(ForeignKey("points_ledger.id"))
    coupon_ids: Mapped[list] = mapped_column(JSON, default=list)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    # The store the member chose to pick the gift up at: only its staff hand it over. None for coupon items
    # and for pickups redeemed before stores were chosen (any store hands those over).
    pickup_store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fulfilled_store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    fulfilled_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(32))  # member | operator:<id>
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    item: Mapped[CatalogItem] = relationship()
    pickup_store: Mapped[Store | None] = relationship(foreign_keys=[pickup_store_id])

    @property
    def pickup_store_code(self) -> str | None:
        return self.pickup_store.code if self.pickup_store is not None else None
