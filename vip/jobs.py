"""RQ entry point of the paid VIP (thin: a business date in, counts out)."""
from __future__ import annotations

from datetime import date

from app.jobs import run_job
from vip import service


def expire_vips(day: date | str | None = None) -> dict:
    return run_job("expire_vips", service.expire_vips, day=day)
