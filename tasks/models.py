"""Task definitions, their completions, daily check-ins and referral rewards.

Every cap and every "only once" is a unique constraint, so a retry or a concurrent request can never
reward twice even if the code's own checks race:
- `TaskCompletion`: unique (task, member, ref) -- the same shared page never pays twice -- and
  unique (task, member, period_key, slot) -- at most `cap_count` slots exist per period.
- `CheckIn`: unique (member, day) -- one check-in per business day.
- `ReferralReward`: unique invitee -- one reward per invited friend, whoever tries.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db_types import UTCDateTime
from app.extensions import db

TASK_KINDS = ("checkin", "share", "post", "profile", "first_purchase", "invite", "custom")
SELF_REPORTED_KINDS = ("share", "post", "custom")  # the mini-program reports these with a ref
CAP_PERIODS = ("day", "week", "month", "once")
STREAK_RESETS = ("never", "weekly", "monthly")


class TaskDefinition(db.Model):
    __tablename__ = "task_definitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    title: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(255))
    display_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    # {"points": int, "growth": int, "coupon_template_id": int | None}
    reward: Mapped[dict] = mapped_column(JSON, default=dict)
    cap_period: Mapped[str] = mapped_column(String(8), default="day")
    cap_count: Mapped[int] = mapped_column(default=1)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tiers: Mapped[list] = mapped_column(JSON, default=list)  # tier codes; empty = every tier
    # check-in only: [{"day": 7, "reward": {...}}], [{"total": 30, "reward": {...}}]
    streak_bonuses: Mapped[list] = mapped_column(JSON, default=list)
    milestones: Mapped[list] = mapped_column(JSON, default=list)
    streak_reset: Mapped[str] = mapped_column(String(8), default="never")
    streak_cycle_days: Mapped[int | None]  # e.g. 7: bonus days repeat every week of an unbroken streak
    invitee_reward: Mapped[dict | None] = mapped_column(JSON)  # invite only: what the new friend gets
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)

    @property
    def cap(self) -> dict:
        return {"period": self.cap_period, "count": self.cap_count}


class TaskCompletion(db.Model):
    __tablename__ = "task_completions"
    __table_args__ = (
        UniqueConstraint("task_id", "member_id", "ref"),
        UniqueConstraint("task_id", "member_id", "period_key", "slot"),
        Index("ix_task_completions_member_id_id", "member_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task_definitions.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    ref: Mapped[str] = mapped_column(String(128))
    period_key: Mapped[str] = mapped_column(String(16))
    slot: Mapped[int]
    business_day: Mapped[date] = mapped_column(Date)
    points: Mapped[int] = mapped_column(default=0)
    growth: Mapped[int] = mapped_column(default=0)
    coupon_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class CheckIn(db.Model):
    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("member_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    task_id: Mapped[int] = mapped_column(ForeignKey("task_definitions.id"))
    day: Mapped[date] = mapped_column(Date)
    streak: Mapped[int]
    total: Mapped[int]  # cumulative check-ins, for milestones
    points: Mapped[int] = mapped_column(default=0)
    growth: Mapped[int] = mapped_column(default=0)
    bonus: Mapped[list] = mapped_column(JSON, default=list)  # which bonuses/milestones paid
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class ReferralReward(db.Model):
    """The outcome of an invited friend's first purchase for the inviter (one row per invitee)."""

    __tablename__ = "referral_rewards"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitee_id: Mapped[int] = mapped_column(ForeignKey("members.id"), unique=True)
    inviter_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task_definitions.id"))
    completion_id: Mapped[int | None] = mapped_column(ForeignKey("task_completions.id"))
    purchase_id: Mapped[int | None]
    state: Mapped[str] = mapped_column(String(16))  # rewarded | capped | not_eligible | no_task
    points: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
