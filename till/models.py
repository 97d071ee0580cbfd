"""The till's records: purchases with their lines and refunds, and the earn rules with their uses."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db_types import UTCDateTime
from app.extensions import db


class Purchase(db.Model):
    """A purchase recorded at a till; unique per (store, order_no) so a retried POST records once."""

    __tablename__ = "purchases"
    __table_args__ = (UniqueConstraint("store_id", "order_no"), Index("ix_purchases_member_id_id", "member_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    order_no: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    request_hash: Mapped[str] = mapped_column(String(64))  # same order_no, other body: 409
    subtotal: Mapped[int]  # fen, after member prices
    coupon_discount: Mapped[int] = mapped_column(default=0)
    points_used: Mapped[int] = mapped_column(default=0)
    points_value: Mapped[int] = mapped_column(default=0)  # fen paid with points
    paid: Mapped[int]  # fen paid in money
    points_earned: Mapped[int] = mapped_column(default=0)
    growth_added: Mapped[int] = mapped_column(default=0)
    earn_entry_id: Mapped[int | None] = mapped_column(ForeignKey("points_ledger.id"))
    spend_entry_id: Mapped[int | None] = mapped_column(ForeignKey("points_ledger.id"))
    refunded_amount: Mapped[int] = mapped_column(default=0)  # fen of money given back so far
    # the whole order (money, points, goods) has been given back: what "bought" means for reports
    refunded_full: Mapped[bool] = mapped_column(default=False, server_default=false())
    response: Mapped[dict | None] = mapped_column(JSON)  # the first answer, returned again on a replay
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)


class PurchaseLine(db.Model):
    __tablename__ = "purchase_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    category: Mapped[str | None] = mapped_column(String(64))
    qty: Mapped[int]
    list_price: Mapped[int]
    unit_price: Mapped[int]
    total: Mapped[int]
    refunded_qty: Mapped[int] = mapped_column(default=0, server_default="0")  # goods brought back so far


class Refund(db.Model):
    __tablename__ = "refunds"
    __table_args__ = (UniqueConstraint("store_id", "refund_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"), index=True)
    refund_no: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int]  # fen of money refunded (0 for an order paid with points only)
    request_hash: Mapped[str] = mapped_column(String(64))
    points_reversed: Mapped[int] = mapped_column(default=0)
    points_returned: Mapped[int] = mapped_column(default=0)
    growth_removed: Mapped[int] = mapped_column(default=0)
    response: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)


class EarnRule(db.Model):
    """A campaign multiplier on earned points (see points/earn_rules.py for how rules combine).

    Empty/None conditions match everything; weekdays are ISO (1 = Monday ... 7 = Sunday) business days.
    """

    __tablename__ = "earn_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    percent: Mapped[int]  # 200 = double points
    tiers: Mapped[list | None] = mapped_column(JSON)
    categories: Mapped[list | None] = mapped_column(JSON)
    skus: Mapped[list | None] = mapped_column(JSON)
    weekdays: Mapped[list | None] = mapped_column(JSON)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    priority: Mapped[int] = mapped_column(default=0)
    stackable: Mapped[bool] = mapped_column(default=True)
    cap_per_order: Mapped[int | None]
    cap_per_day: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)


class EarnRuleUse(db.Model):
    """Bonus points one rule gave one purchase: what the per-day cap counts (points - released).

    `released` is the share a refund gave back, so a refunded purchase stops using up the member's day."""

    __tablename__ = "earn_rule_uses"
    __table_args__ = (
        UniqueConstraint("purchase_id", "rule_id"),
        Index("ix_earn_rule_uses_member_rule_day", "member_id", "rule_id", "business_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    rule_id: Mapped[int] = mapped_column(ForeignKey("earn_rules.id"))
    business_date: Mapped[date] = mapped_column(Date)
    points: Mapped[int]
    released: Mapped[int] = mapped_column(default=0, server_default="0")
