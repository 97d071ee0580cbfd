"""RQ entry points for the tier ladder and the paid VIP (thin: ids and dates in, counts out).

`day` is a business date (or its ISO string); `month` is "YYYY-MM" or any date in the month (the scheduler
passes the first day). None means the current business day or month.
"""
from __future__ import annotations

from datetime import date

from app.jobs import run_job


def grant_birthday_gifts(day: date | str | None = None) -> dict:
    from members.tiers import service

    return run_job("grant_birthday_gifts", service.grant_birthday_gifts, day=day)


def grant_monthly_packs(month: date | str | None = None) -> dict:
    from members.tiers import service

    return run_job("grant_monthly_packs", service.grant_monthly_packs, month=month)


def review_tiers(day: date | str | None = None) -> dict:
    from members.tiers import service

    return run_job("review_tiers", service.review_tiers, day=day)


def expire_vips(day: date | str | None = None) -> dict:
    from members.vip import service

    return run_job("expire_vips", service.expire_vips, day=day)
