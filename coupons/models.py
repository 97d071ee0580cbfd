"""Coupon templates, the coupons issued from them, and targeted issues (batch campaigns).

- `CouponTemplate`: what marketing configures; `issued_count` is the stock counter taken by a conditional
  UPDATE, so stock can never be oversold whatever the concurrency.
- `Coupon`: one instance held by one member, with a snapshot of its template's terms (`terms`), so editing or
  stopping a template never changes a coupon already in a wallet. Unique (template, member, grant_key) makes
  every automatic grant and every targeted issue idempotent in the database, not only in code.
- `CouponIssue`: a targeted issue's progress; `last_member_id` is the keyset cursor a re-run resumes from.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db_types import UTCDateTime
from app.extensions import db

KINDS = ("amount_off", "percent_off", "gift")
STATES = ("available", "used", "expired", "revoked")


class CouponTemplate(db.Model):
    __tablename__ = "coupon_templates"
    __table_args__ = (
        CheckConstraint("stock IS NULL OR issued_count <= stock", name="issued_within_stock"),
        CheckConstraint("issued_count >= 0", name="issued_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # stable handle for seeds and other domains
    title: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(500))  # display text
    kind: Mapped[str] = mapped_column(String(16))
    amount_off: Mapped[int | None]  # fen
    percent: Mapped[int | None]  # percent of the price paid: 88 = 88折 (12% off)
    max_discount: Mapped[int | None]  # fen cap for percent_off
    gift_sku: Mapped[str | None] = mapped_column(String(64))
    threshold: Mapped[int] = mapped_column(default=0)  # fen of in-scope amount; 0 = no threshold
    scope: Mapped[dict] = mapped_column(JSON, default=dict)  # {kind: all|categories|skus, values, exclude}
    validity_kind: Mapped[str] = mapped_column(String(8))  # fixed | relative
    valid_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_end: Mapped[datetime | None] = mapped_column(UTCDateTime)  # exclusive instant
    valid_days: Mapped[int | None]
    stock: Mapped[int | None]  # None: unlimited
    issued_count: Mapped[int] = mapped_column(default=0)
    per_member_limit: Mapped[int] = mapped_column(default=1)
    audience: Mapped[dict] = mapped_column(JSON, default=dict)  # {tiers, tags, new_members_only}
    claimable: Mapped[bool] = mapped_column(default=False)
    claim_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stackable: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)


class Coupon(db.Model):
    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("template_id", "member_id", "grant_key"),
        Index("ix_coupons_member_state_until", "member_id", "state", "valid_until"),
        Index("ix_coupons_state_until", "state", "valid_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)  # 20 random digits (barcode)
    template_id: Mapped[int] = mapped_column(ForeignKey("coupon_templates.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    grant_key: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(16))  # claim | grant | issue | register
    reason: Mapped[str | None] = mapped_column(String(128))
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("coupon_issues.id"), index=True)
    title: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    terms: Mapped[dict] = mapped_column(JSON)  # snapshot of the template's terms at issue
    state: Mapped[str] = mapped_column(String(10), default="available")
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)  # exclusive
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class CouponIssue(db.Model):
    """A targeted issue: audience in, counts out; unique key per template so a re-posted issue is one issue."""

    __tablename__ = "coupon_issues"
    __table_args__ = (UniqueConstraint("template_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("coupon_templates.id"))
    key: Mapped[str] = mapped_column(String(64))
    audience: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10), default="queued")  # queued | running | done | failed
    issued: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    last_member_id: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
