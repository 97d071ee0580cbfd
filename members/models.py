"""Members, their WeChat identities, the tier ladder, tags and consumed member codes."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.db_types import UTCDateTime
from app.extensions import db


class Tier(db.Model):
    """One rung of the ladder; `benefits` is the table marketing edits (multiplier, birthday gift, ...)."""

    __tablename__ = "tiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    rank: Mapped[int] = mapped_column(unique=True)
    growth_threshold: Mapped[int] = mapped_column(default=0)
    retention_threshold: Mapped[int] = mapped_column(default=0)
    benefits: Mapped[dict] = mapped_column(JSON, default=dict)
    # When members of this tier are reviewed (downgrades happen only then): "anniversary" of entering the
    # tier, or "calendar" on `review_month_day` ("MM-DD") every year.
    review_rule: Mapped[str] = mapped_column(String(16), default="anniversary", server_default="anniversary")
    review_month_day: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)


class Member(db.Model):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    nickname: Mapped[str | None] = mapped_column(String(64))
    avatar_url: Mapped[str | None] = mapped_column(String(512))
    gender: Mapped[int] = mapped_column(default=0)  # 0 unknown, 1 male, 2 female (WeChat's values)
    birthday: Mapped[date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id"), index=True)
    growth: Mapped[int] = mapped_column(default=0)
    # Purchases recorded at the till (refunded ones too): the till learns "first purchase" from the same
    # UPDATE that adds the purchase's growth, under that row's lock, instead of a query of the purchases.
    purchase_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # Member codes consumed so far: mixed into the code's HMAC, so a used code is replaced at once (member_code).
    code_nonce: Mapped[int] = mapped_column(default=0, server_default="0")
    # The current tier's review period: growth since `tier_period_start` must reach the tier's retention
    # threshold by `tier_review_on` (a business date; None for the entry tier, which is never reviewed).
    tier_period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tier_review_on: Mapped[date | None] = mapped_column(Date, index=True)
    vip_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invite_code: Mapped[str] = mapped_column(String(16), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    source_channel: Mapped[str | None] = mapped_column(String(64))
    # The brand's own customer id, for a member imported from its old system (onboarding/): what makes a
    # re-run import skip the member instead of doubling them; None for members who joined here. A unique index
    # (not a constraint: adding one would rebuild the members table on SQLite, whose rows others reference).
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Tokens issued at or before this moment are refused (sessions revoked by an operator); None: all valid.
    tokens_valid_after: Mapped[datetime | None] = mapped_column(UTCDateTime)

    tier: Mapped[Tier | None] = relationship()

    def vip_active(self) -> bool:
        return self.vip_until is not None and self.vip_until > clock.now()


class MemberIdentity(db.Model):
    """openid (per mini-program app id) and unionid (brand-wide): how WeChat users map to one member."""

    __tablename__ = "member_identities"
    __table_args__ = (UniqueConstraint("kind", "app_id", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # openid | unionid
    app_id: Mapped[str] = mapped_column(String(64))  # "" for unionid
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class MemberTag(db.Model):
    __tablename__ = "member_tags"
    __table_args__ = (Index("ix_member_tags_tag", "tag", "member_id"),)

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), default="auto")  # auto | manual
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class ConsumedMemberCode(db.Model):
    """A member code used by a purchase: the primary key makes a replay impossible."""

    __tablename__ = "consumed_member_codes"

    code: Mapped[str] = mapped_column(String(18), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    purpose: Mapped[str] = mapped_column(String(64))
    consumed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
