"""Paid VIP: plans on sale, orders paid through WeChat Pay, and the VIP periods they bought.

A period row per paid order (unique order_id) is what makes a replayed payment notify harmless.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db_types import UTCDateTime
from app.extensions import db


class VipPlan(db.Model):
    __tablename__ = "vip_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    price: Mapped[int]  # fen
    duration_days: Mapped[int]
    # {points_multiplier_percent, monthly_pack: [{coupon_template_id, count}],
    #  vip_day: {day_of_month, multiplier_percent} | None, display: [{title, icon, text}]}
    benefits: Mapped[dict] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)


class VipOrder(db.Model):
    __tablename__ = "vip_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(32), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("vip_plans.id"))
    amount: Mapped[int]  # fen, the plan's price when ordered
    duration_days: Mapped[int]  # the plan's duration when ordered
    state: Mapped[str] = mapped_column(String(16), default="created")  # created | paid
    prepay_id: Mapped[str | None] = mapped_column(String(128))
    transaction_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class VipPeriod(db.Model):
    __tablename__ = "vip_periods"
    __table_args__ = (Index("ix_vip_periods_state_ends", "state", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("vip_orders.id"), unique=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("vip_plans.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(8), default="active")  # active | ended
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
