"""The points ledger (CRMEB-style rows with cause and balance after) plus lots, draws and the policy.

- `LedgerEntry`: append-only, one row per change, unique (kind, business_key): the truth.
- `PointsLot`: one per credit, with its own expiry; spending draws from lots soonest-expiring first.
- `LotDraw`: which lots a debit took from, so a refund/cancel gives points back to the right expiry.
- `PointsAccount`: cached available / pending / debt, changed in the same transaction under a row lock.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db_types import UTCDateTime
from app.extensions import db

CREDIT_KINDS = ("earn", "grant", "adjust", "refund", "opening")  # opening: an imported balance
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
    kind: Mapped[str] = mapped_column(String(16))  # earn grant adjust refund opening | spend expire reverse adjust
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
