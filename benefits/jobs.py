"""RQ entry points of the benefit grants (thin: ids and dates in, counts out).

`day` is a business date (or its ISO string); `month` is "YYYY-MM" or any date in the month (the scheduler
passes the first day). None means the current business day or month.
"""
from __future__ import annotations

from datetime import date

from app.jobs import run_job
from benefits import grants


def grant_birthday_gifts(day: date | str | None = None) -> dict:
    return run_job("grant_birthday_gifts", grants.grant_birthday_gifts, day=day)


def grant_monthly_packs(month: date | str | None = None) -> dict:
    return run_job("grant_monthly_packs", grants.grant_monthly_packs, month=month)
