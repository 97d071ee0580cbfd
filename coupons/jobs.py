"""RQ entry points for coupons: thin, counts out."""
from __future__ import annotations

from app.jobs import run_job
from coupons import expiry


def expire_coupons() -> dict:
    """Daily: available coupons past their end become expired."""
    return run_job("expire_coupons", expiry.expire_coupons)
