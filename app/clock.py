"""The one place that reads the time.

Everything stores UTC; business days (check-in day, birthdays, end-of-day expiry) are dates in the
configured business timezone. Tests move the clock with `set_now`; nothing else calls datetime.now().
"""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

from app.errors import ValidationError

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


# --- the dates jobs and queries are given ---------------------------------------------------------

def as_day(day: date | str | None) -> date:
    """Jobs get a business date, or its ISO string through a queue; None means today."""
    if day is None:
        return business_today()
    if isinstance(day, datetime):
        return to_business_date(day)
    if isinstance(day, date):
        return day
    try:
        return date.fromisoformat(str(day))
    except ValueError:
        raise ValidationError("day", "Must be YYYY-MM-DD.") from None


def parse_month(month: date | str | None) -> tuple[str, date]:
    """A month as "YYYY-MM", a date in it (the scheduler passes its first day), or None for this month."""
    if month is None or isinstance(month, date):
        first = as_day(month).replace(day=1)
    else:
        text = str(month)
        try:
            if not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", text):
                raise ValueError(text)
            first = date.fromisoformat(text if len(text) == 10 else f"{text}-01").replace(day=1)
        except ValueError:
            raise ValidationError("month", "Must be YYYY-MM.") from None
    return f"{first.year:04d}-{first.month:02d}", first


def open_at(thing, moment: datetime) -> bool:
    """Whether something with `active`, `starts_at` and `ends_at` (a task, a mall item) is open at `moment`:
    on, started (no start means always), not yet ended (the end is exclusive; no end means never)."""
    if not thing.active:
        return False
    if thing.starts_at is not None and as_utc(moment) < as_utc(thing.starts_at):
        return False
    return thing.ends_at is None or as_utc(moment) < as_utc(thing.ends_at)
