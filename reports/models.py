"""Report tables: daily rollups, per-member segments (lifecycle, RFM, KOC), audiences and lifecycle settings.

Reports never scan the ledger or the purchases at request time for closed days: `rollup_daily` writes one
row per business day (and per day and tier, plus bitmaps of who bought per day and month) and the summary adds them up.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db_types import UTCDateTime
from app.extensions import db
from points.models import LedgerEntry
from till.models import Purchase

# The rollup reads one business day of the ledger by time; without this index each day is a full scan of a
# table that grows by millions of rows. Declared here (on the points table) because only reports need it.
ledger_created_at_index = Index("ix_points_ledger_created_at", LedgerEntry.__table__.c.created_at)
# A member's purchases before a day (the rollup's and lifecycle's "previous purchase") by index, not by heap.
purchases_member_time_index = Index("ix_purchases_member_id_created_at", Purchase.__table__.c.member_id,
                                    Purchase.__table__.c.created_at)


class ReportDaily(db.Model):
    """Every additive figure of one business day, plus the end-of-day totals (members, outstanding points)."""

    __tablename__ = "report_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    members_total: Mapped[int] = mapped_column(default=0)  # registered by the end of the day
    members_new: Mapped[int] = mapped_column(default=0)
    purchases_count: Mapped[int] = mapped_column(default=0)
    gmv: Mapped[int] = mapped_column(BigInteger, default=0)  # fen paid in money on the day's purchases
    refunds_count: Mapped[int] = mapped_column(default=0)
    refunds_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    purchasers: Mapped[int] = mapped_column(default=0)  # distinct members who bought that day
    repeat_purchasers: Mapped[int] = mapped_column(default=0)  # ... of whom bought twice or more that day
    points_issued: Mapped[int] = mapped_column(BigInteger, default=0)  # earn + grant + positive adjust
    points_returned: Mapped[int] = mapped_column(BigInteger, default=0)  # refund (spent points given back)
    points_spent: Mapped[int] = mapped_column(BigInteger, default=0)
    points_expired: Mapped[int] = mapped_column(BigInteger, default=0)
    points_reversed: Mapped[int] = mapped_column(BigInteger, default=0)  # earned points taken back by refunds
    points_adjusted_out: Mapped[int] = mapped_column(BigInteger, default=0)  # negative adjustments
    points_outstanding: Mapped[int] = mapped_column(BigInteger, default=0)  # sum of the ledger at the end of the day
    coupons_issued: Mapped[int] = mapped_column(default=0)
    coupons_used: Mapped[int] = mapped_column(default=0)
    coupons_expired: Mapped[int] = mapped_column(default=0)
    redemptions: Mapped[int] = mapped_column(default=0)
    checkins: Mapped[int] = mapped_column(default=0)
    invites_count: Mapped[int] = mapped_column(default=0)  # members registered with an inviter
    invites_converted: Mapped[int] = mapped_column(default=0)  # invitees whose first purchase was that day
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class ReportDailyTier(db.Model):
    """Purchases and GMV of one day split by the buyer's tier (as it was when the day was rolled up)."""

    __tablename__ = "report_daily_tiers"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    tier_code: Mapped[str] = mapped_column(String(32), primary_key=True)  # "" for members without a tier
    purchases_count: Mapped[int] = mapped_column(default=0)
    gmv: Mapped[int] = mapped_column(BigInteger, default=0)


class ReportBuyers(db.Model):
    """Who bought on one day, as zlib-compressed bitmaps over member ids (bit n = member n).

    Distinct-member figures over a range (active members, repurchase) are unions of these: a year of days is
    a dozen month bitmaps plus edge days ORed in memory instead of grouping millions of member-day rows in SQL."""

    __tablename__ = "report_buyers"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    buyers: Mapped[bytes] = mapped_column(LargeBinary)  # members with 1+ purchases that day
    repeat: Mapped[bytes] = mapped_column(LargeBinary)  # members with 2+ purchases that day


class ReportBuyersMonth(db.Model):
    """The union of a calendar month's day bitmaps (`repeat`: 2+ purchases within the month), so a year-long
    range ORs about a dozen month bitmaps plus the edge days instead of 365 days."""

    __tablename__ = "report_buyers_months"

    month: Mapped[date] = mapped_column(Date, primary_key=True)  # the 1st of the month
    buyers: Mapped[bytes] = mapped_column(LargeBinary)
    repeat: Mapped[bytes] = mapped_column(LargeBinary)
    days: Mapped[int] = mapped_column(default=0)  # how many of the month's days were rolled up into it
