"""Report tables: daily rollups, per-member segments (lifecycle, RFM, KOC), audiences and lifecycle settings.

Reports never scan the ledger or the purchases at request time for closed days: `rollup_daily` writes one
row per business day (and per day and tier, plus bitmaps of who bought per day and month) and the summary adds them up.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db_types import UTCDateTime
from app.extensions import db
from points.models import LedgerEntry, Purchase

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


class LifecycleSettings(db.Model):
    """The single row (id = 1) of lifecycle thresholds marketing edits, in days."""

    __tablename__ = "lifecycle_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    new_days: Mapped[int] = mapped_column(default=30)  # joined within N days and no purchase: new
    active_days: Mapped[int] = mapped_column(default=90)  # last purchase within N days: active
    lapsed_days: Mapped[int] = mapped_column(default=180)  # last purchase N days ago or more: lapsed
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)


class MemberLifecycle(db.Model):
    __tablename__ = "member_lifecycle"
    __table_args__ = (Index("ix_member_lifecycle_stage", "stage", "member_id"),)

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16))  # new | active | at_risk | lapsed | dormant
    last_purchase_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    computed_on: Mapped[date] = mapped_column(Date)


class MemberRfm(db.Model):
    """Scores 1-5 by quintile over the members with purchases; `spend_12m` ranks the super users."""

    __tablename__ = "member_rfm"
    __table_args__ = (
        Index("ix_member_rfm_segment", "segment", "member_id"),
        Index("ix_member_rfm_spend_12m", "spend_12m", "member_id"),
    )

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    last_purchase_at: Mapped[datetime] = mapped_column(UTCDateTime)
    frequency: Mapped[int]
    monetary: Mapped[int] = mapped_column(BigInteger)  # fen, net of refunds
    spend_12m: Mapped[int] = mapped_column(BigInteger, default=0)
    r_score: Mapped[int]
    f_score: Mapped[int]
    m_score: Mapped[int]
    segment: Mapped[str] = mapped_column(String(24))
    super_user: Mapped[bool] = mapped_column(default=False)
    computed_on: Mapped[date] = mapped_column(Date)


class KocScore(db.Model):
    """Members who brought others in: invites, invitees converted to a first purchase, task posts."""

    __tablename__ = "koc_scores"
    __table_args__ = (Index("ix_koc_scores_rank", "converted", "invites", "member_id"),)

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    invites: Mapped[int] = mapped_column(default=0)
    converted: Mapped[int] = mapped_column(default=0)
    posts: Mapped[int] = mapped_column(default=0)
    computed_on: Mapped[date] = mapped_column(Date)


class SegmentRun(db.Model):
    """The totals of one RFM run (one row per day): what /super-users answers without re-ranking a million rows."""

    __tablename__ = "segment_runs"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    members_with_purchases: Mapped[int] = mapped_column(default=0)
    spenders_12m: Mapped[int] = mapped_column(default=0)
    revenue_12m: Mapped[int] = mapped_column(BigInteger, default=0)
    super_users: Mapped[int] = mapped_column(default=0)
    super_revenue_12m: Mapped[int] = mapped_column(BigInteger, default=0)
    super_threshold: Mapped[int] = mapped_column(BigInteger, default=0)  # the smallest 12-month spend in the top group
    segments: Mapped[dict] = mapped_column(JSON, default=dict)  # segment -> {members, monetary}
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class Audience(db.Model):
    """A saved member filter (tiers, tags, lifecycle, RFM segment, birthday month, points range)."""

    __tablename__ = "audiences"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str | None] = mapped_column(String(255))
    filter: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)
