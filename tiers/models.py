"""Tier history, the growth log, benefit grants and the ladder's policy settings.

- `GrowthEvent`: every change of growth value, so a review can sum the growth earned in the review period.
- `TierChange`: one row per change of tier (from, to, reason, when).
- `BenefitGrant`: one row per (member, benefit, period): the unique key that makes the birthday and
  monthly-pack jobs re-runnable; `payload` keeps what was granted, so later benefit edits change nothing.
- `TierPolicy`: the single row of ladder-wide settings marketing chooses.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db_types import UTCDateTime
from app.extensions import db

DOWNGRADE_MODES = ("one_step", "to_supported")
REFUND_MODES = ("at_review", "immediate")


class TierPolicy(db.Model):
    __tablename__ = "tier_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    downgrade_mode: Mapped[str] = mapped_column(String(16), default="one_step")
    refund_downgrade: Mapped[str] = mapped_column(String(16), default="at_review")
    # growth value (成长值) a till purchase adds per yuan of money paid (not the part paid with points)
    growth_per_yuan: Mapped[int] = mapped_column(default=1, server_default="1")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)


class GrowthEvent(db.Model):
    __tablename__ = "growth_events"
    __table_args__ = (Index("ix_growth_events_member_created", "member_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    delta: Mapped[int]
    growth_after: Mapped[int]
    reason: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class TierChange(db.Model):
    __tablename__ = "tier_changes"
    __table_args__ = (Index("ix_tier_changes_member_id", "member_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    from_tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id"))
    to_tier_id: Mapped[int] = mapped_column(ForeignKey("tiers.id"))
    reason: Mapped[str] = mapped_column(String(32))  # growth | refund | review | admin
    ref: Mapped[str | None] = mapped_column(String(128))
    growth: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class BenefitGrant(db.Model):
    __tablename__ = "benefit_grants"
    __table_args__ = (UniqueConstraint("member_id", "benefit", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    benefit: Mapped[str] = mapped_column(String(32))  # birthday | monthly_pack | vip_pack
    period: Mapped[str] = mapped_column(String(16))  # "2026" | "2026-03"
    source: Mapped[str] = mapped_column(String(64))  # "tier:gold" | "vip:annual"
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
