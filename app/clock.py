"""The one place that reads the time.

Everything stores UTC; business days (check-in day, birthdays, end-of-day expiry) are dates in the
configured business timezone. Tests move the clock with `set_now`; nothing else calls datetime.now().
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

_frozen: datetime | None = None


def now() -> datetime:
    """Aware UTC now (or the time a test set)."""
    return _frozen if _frozen is not None else datetime.now(UTC)


def set_now(value: datetime | None) -> None:
    """Move the clock (tests, and `flask jobs run --date`); None returns to the wall clock."""
    global _frozen
    if value is not None and value.tzinfo is None:
        raise ValueError("set_now needs an aware datetime")
    _frozen = value.astimezone(UTC) if value is not None else None


def frozen() -> datetime | None:
    """The time set by set_now, or None on the wall clock: what to put back after moving it for a while."""
    return _frozen


def business_tz() -> ZoneInfo:
    name = current_app.config.get("BUSINESS_TZ", "Asia/Shanghai") if has_app_context() else "Asia/Shanghai"
    return ZoneInfo(name)


def business_today() -> date:
    return now().astimezone(business_tz()).date()


def to_business_date(moment: datetime) -> date:
    return as_utc(moment).astimezone(business_tz()).date()


def start_of_business_day(day: date) -> datetime:
    """The UTC instant at which a business day begins."""
    return datetime.combine(day, time.min, tzinfo=business_tz()).astimezone(UTC)


def end_of_business_day(day: date) -> datetime:
    """The UTC instant at which a business day ends (exclusive): expiry 'at the end of day'."""
    return start_of_business_day(day + timedelta(days=1))


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
