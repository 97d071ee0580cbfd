"""RQ entry points for coupons: thin, ids in, counts out (the scheduler issue wires the periodic ones)."""
from __future__ import annotations

from app.jobs import last_attempt, run_job


def issue_coupons(issue_id: int) -> dict:
    """A targeted issue, enqueued on the `grants` queue by POST .../coupon-templates/{id}/issue under the
    job id `coupon-issue-<id>`; whether this try is RQ's last decides if a failure marks the issue failed."""
    from coupons import service

    return run_job("issue_coupons", service.run_issue, issue_id=issue_id, last_try=last_attempt())


def expire_coupons() -> dict:
    """Daily: available coupons past their end become expired."""
    from coupons import service

    return run_job("expire_coupons", service.expire_coupons)
