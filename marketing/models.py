"""Marketing's per-member segments (lifecycle, RFM, KOC), their runs and settings, and saved audiences."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db_types import UTCDateTime
from app.extensions import db


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
