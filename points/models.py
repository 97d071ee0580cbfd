"""The points ledger (CRMEB-style rows with cause and balance after) plus lots, draws and the policy.

- `LedgerEntry`: append-only, one row per change, unique (kind, business_key): the truth.
- `PointsLot`: one per credit, with its own expiry; spending draws from lots soonest-expiring first.
- `LotDraw`: which lots a debit took from, so a refund/cancel gives points back to the right expiry.
- `PointsAccount`: cached available / pending / debt, changed in the same transaction under a row lock.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db_types import UTCDateTime
from app.extensions import db

CREDIT_KINDS = ("earn", "grant", "adjust", "refund")
DEBIT_KINDS = ("spend", "expire", "reverse", "adjust")


class PointsAccount(db.Model):
    __tablename__ = "points_accounts"
    __table_args__ = (
        CheckConstraint("available >= 0", name="available_not_negative"),
        CheckConstraint("pending >= 0", name="pending_not_negative"),
        CheckConstraint("debt >= 0", name="debt_not_negative"),
    )

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    available: Mapped[int] = mapped_column(default=0)
    pending: Mapped[int] = mapped_column(default=0)
    debt: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)

    @property
    def balance(self) -> int:
        """What the ledger sums to: available + pending - debt."""
        return self.available + self.pending - self.debt


class LedgerEntry(db.Model):
    __tablename__ = "points_ledger"
    __table_args__ = (
        UniqueConstraint("kind", "business_key"),
        Index("ix_points_ledger_member_id_id", "member_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    delta: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))  # earn grant adjust refund | spend expire reverse adjust
    business_key: Mapped[str] = mapped_column(String(128))
    cause_type: Mapped[str] = mapped_column(String(32))  # purchase refund task grant adjustment redemption lot ...
    cause_id: Mapped[str | None] = mapped_column(String(64))
    balance_after: Mapped[int]
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class PointsLot(db.Model):
    __tablename__ = "points_lots"
    __table_args__ = (
        CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_in_range"),
        Index("ix_points_lots_member_state_expiry", "member_id", "state", "expires_at"),
        Index("ix_points_lots_state_expiry_id", "state", "expires_at", "id"),  # the expiry job's keyset
        Index("ix_points_lots_state_available_id", "state", "available_at", "id"),  # the activation job's
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("points_ledger.id"), index=True)
    amount: Mapped[int]
    remaining: Mapped[int]
    state: Mapped[str] = mapped_column(String(8))  # pending | open | closed
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: never expires
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class LotDraw(db.Model):
    """How much a debit entry took from one lot."""

    __tablename__ = "points_lot_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("points_ledger.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("points_lots.id"), index=True)
    amount: Mapped[int]
    returned: Mapped[int] = mapped_column(default=0)


class PointsPolicy(db.Model):
    """The single row of program-wide points settings marketing edits (id = 1)."""

    __tablename__ = "points_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    points_per_yuan: Mapped[int] = mapped_column(default=1)
    expiry_kind: Mapped[str] = mapped_column(String(16), default="rolling_months")  # rolling_months | year_end | never
    expiry_months: Mapped[int] = mapped_column(default=12)
    expiry_years: Mapped[int] = mapped_column(default=1)  # year_end: end of the Nth calendar year (1 = this year)
    pending_days: Mapped[int] = mapped_column(default=0)
    points_per_yuan_value: Mapped[int] = mapped_column(default=100)  # 100 points = 1 yuan at the till
    max_deduction_percent: Mapped[int] = mapped_column(default=50)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)


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


class Product(db.Model):
    """A product sold at the till, with its member-price table: {"<tier code>": fen, "vip": fen}."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    category: Mapped[str | None] = mapped_column(String(64))
    list_price: Mapped[int]
    member_prices: Mapped[dict] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)


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


class ConfigVersion(db.Model):
    """One row whose token changes in the same transaction as any write of the points policy, a product, an
    earn rule or a tier (points.config.watch): each API process compares it with the token of its cached copy."""

    __tablename__ = "points_config_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
