"""Distribution's tables: the program's settings, levels and commission rules; promoters with their cached
balances and the append-only ledger that proves them; bindings and their history; commissions; withdrawals.

Money is in fen. A promoter's three balances move only with a ledger entry that records the deltas and the
balances after (`flask distribution verify` checks one against the other): `pending` waits for the return
window, `balance` is settled money (negative = a debt that later commission pays first), `frozen` is money in
a withdrawal that has not ended yet.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db_types import UTCDateTime
from app.extensions import db


class DistributionSettings(db.Model):
    """One row (id 1): whether distribution runs at all, which routes make a promoter, and the money rules.
    No row means switched off with the defaults below."""

    __tablename__ = "distribution_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    # routes to promoter besides marketing's grant (each None / False = closed)
    checkin_days: Mapped[int | None]  # apply after this many check-in days
    spend: Mapped[int | None]  # apply after this much paid money (fen, refunds deducted)
    vip_route: Mapped[bool] = mapped_column(default=False)  # apply while holding an active paid VIP
    pack_price: Mapped[int | None]  # buy a promoter pack for this many fen through WeChat Pay
    binding_days: Mapped[int] = mapped_column(default=30)
    touch: Mapped[str] = mapped_column(String(8), default="first")  # first | last
    return_days: Mapped[int] = mapped_column(default=7)  # commission pending this long after the sale
    second_level_bp: Mapped[int | None]  # the promoter's own inviter's rate, in basis points; None = off
    withdraw_min: Mapped[int] = mapped_column(default=100)  # fen (WeChat Pay's transfer starts at 1 yuan)
    withdraw_daily_count: Mapped[int] = mapped_column(default=3)
    withdraw_approval_over: Mapped[int] = mapped_column(default=50_000)  # fen; above it marketing approves
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)


class PromoterLevel(db.Model):
    """A rung of the fan-group ladder (粉丝团): reached by fans who bought OR by attributed GMV."""

    __tablename__ = "distribution_levels"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    rank: Mapped[int] = mapped_column(unique=True)
    min_fans: Mapped[int] = mapped_column(default=0)
    min_gmv: Mapped[int] = mapped_column(default=0)  # fen
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class CommissionRule(db.Model):
    """A rate for the lines it matches: a SKU, else a category, else every line (both empty); for one level
    or all (level empty). The most specific active rule wins a line; its cap bounds its lines in one order."""

    __tablename__ = "distribution_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    sku: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(64))
    level_id: Mapped[int | None] = mapped_column(ForeignKey("distribution_levels.id"))
    rate_bp: Mapped[int]  # basis points of the money paid: 500 = 5%
    cap_per_order: Mapped[int | None]  # fen
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)


class Promoter(db.Model):
    __tablename__ = "distribution_promoters"
    __table_args__ = (
        CheckConstraint("pending >= 0", name="promoter_pending_not_negative"),
        CheckConstraint("frozen >= 0", name="promoter_frozen_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), unique=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)  # what a share's scene carries
    state: Mapped[str] = mapped_column(String(8), default="active", index=True)  # active | revoked
    source: Mapped[str] = mapped_column(String(16))  # granted | checkins | spend | vip | pack
    level_id: Mapped[int | None] = mapped_column(ForeignKey("distribution_levels.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("distribution_promoters.id"))  # own inviter
    pending: Mapped[int] = mapped_column(default=0)
    balance: Mapped[int] = mapped_column(default=0)  # settled; negative = debt
    frozen: Mapped[int] = mapped_column(default=0)
    withdrawn: Mapped[int] = mapped_column(default=0)
    fans: Mapped[int] = mapped_column(default=0)  # bound shoppers who bought (a first attributed sale)
    gmv: Mapped[int] = mapped_column(default=0)  # attributed money paid, refunds deducted (fen)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LevelChange(db.Model):
    """The history of a promoter's levels: each change with the figures that decided it."""

    __tablename__ = "distribution_level_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    promoter_id: Mapped[int] = mapped_column(ForeignKey("distribution_promoters.id"), index=True)
    from_level_id: Mapped[int | None] = mapped_column(ForeignKey("distribution_levels.id"))
    to_level_id: Mapped[int] = mapped_column(ForeignKey("distribution_levels.id"))
    fans: Mapped[int]
    gmv: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class Binding(db.Model):
    """The shopper's current promoter, until `expires_at`: one row per shopper, rewritten on a re-bind."""

    __tablename__ = "distribution_bindings"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    promoter_id: Mapped[int] = mapped_column(ForeignKey("distribution_promoters.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    bought: Mapped[bool] = mapped_column(default=False)  # counted in the promoter's fans
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BindingChange(db.Model):
    """Every binding made, moved or refused a move: the audit trail of who brought whom."""

    __tablename__ = "distribution_binding_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    from_promoter_id: Mapped[int | None] = mapped_column(ForeignKey("distribution_promoters.id"))
    to_promoter_id: Mapped[int] = mapped_column(ForeignKey("distribution_promoters.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))  # bound | moved | renewed | kept
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class Commission(db.Model):
    """One promoter's commission on one attributed sale (depth 1: the bound promoter; 2: their inviter): a till
    purchase, or the cash part of a points-mall gift paid at its pickup."""

    __tablename__ = "distribution_commissions"
    __table_args__ = (
        UniqueConstraint("purchase_id", "depth"),
        UniqueConstraint("redemption_id", "depth"),
        CheckConstraint("(purchase_id IS NULL) <> (redemption_id IS NULL)", name="commission_one_sale"),
        Index("ix_distribution_commissions_due", "state", "settle_at", "id"),
        Index("ix_distribution_commissions_promoter", "promoter_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"))
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemptions.id"))
    promoter_id: Mapped[int] = mapped_column(ForeignKey("distribution_promoters.id"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    depth: Mapped[int] = mapped_column(default=1)
    base: Mapped[int]  # fen of money paid the commission was computed on
    amount: Mapped[int]  # fen, as computed at the sale
    reversed: Mapped[int] = mapped_column(default=0)  # fen taken back by refunds
    state: Mapped[str] = mapped_column(String(8), default="pending")  # pending | settled
    settle_at: Mapped[datetime] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the ledger entry that settled it; no foreign key: the check (a locking read of the entry per row) was most
    # of settlement's cost, and entries are append-only, never deleted (bench/README.md)
    settle_entry_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class PromoterEntry(db.Model):
    """The append-only ledger of a promoter's money: each row's deltas and the balances after it."""

    __tablename__ = "distribution_ledger"
    __table_args__ = (Index("ix_distribution_ledger_promoter", "promoter_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    promoter_id: Mapped[int] = mapped_column(ForeignKey("distribution_promoters.id"))
    kind: Mapped[str] = mapped_column(String(16))  # accrue | reverse | settle | clawback | withdraw | paid | returned
    key: Mapped[str] = mapped_column(String(96), unique=True)  # idempotency: one entry per cause
    pending_delta: Mapped[int] = mapped_column(default=0)
    balance_delta: Mapped[int] = mapped_column(default=0)
    frozen_delta: Mapped[int] = mapped_column(default=0)
    pending_after: Mapped[int]
    balance_after: Mapped[int]
    frozen_after: Mapped[int]
    cause_type: Mapped[str] = mapped_column(String(16))  # purchase | refund | settlement | withdrawal
    cause_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class Withdrawal(db.Model):
    """Settled money sent to the promoter's WeChat wallet (企业付款到零钱), idempotent by withdrawal_no (also
    WeChat Pay's partner_trade_no, so a resent transfer is never paid twice)."""

    __tablename__ = "distribution_withdrawals"
    __table_args__ = (Index("ix_distribution_withdrawals_day", "promoter_id", "business_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    withdrawal_no: Mapped[str] = mapped_column(String(32), unique=True)
    promoter_id: Mapped[int] = mapped_column(ForeignKey("distribution_promoters.id"))
    amount: Mapped[int]
    real_name: Mapped[str | None] = mapped_column(String(64))  # WeChat checks it against the wallet when given
    # awaiting_approval | processing | paid | failed | rejected
    state: Mapped[str] = mapped_column(String(20), index=True)
    business_date: Mapped[date] = mapped_column(Date)
    payment_no: Mapped[str | None] = mapped_column(String(64))
    failure: Mapped[str | None] = mapped_column(String(128))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PackOrder(db.Model):
    """A promoter pack bought through WeChat Pay: paid, it makes the member a promoter (source `pack`)."""

    __tablename__ = "distribution_pack_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(32), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    amount: Mapped[int]
    state: Mapped[str] = mapped_column(String(16), default="created")  # created | paid
    prepay_id: Mapped[str | None] = mapped_column(String(128))
    transaction_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
