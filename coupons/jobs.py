"""RQ entry points for coupons: thin, ids in, counts out (the scheduler issue wires the periodic ones)."""
from __future__ import annotations

from app.jobs import run_job


def issue_coupons(issue_id: int) -> dict:
    """A targeted issue, enqueued on the `grants` queue by POST .../coupon-templates/{id}/issue."""
    from coupons import service

    return run_job("coupons.issue", service.run_issue, issue_id=issue_id)


def expire_coupons() -> dict:
    """Daily: available coupons past their end become expired."""
    from coupons import service

    return run_job("expire_coupons", service.expire_coupons)
