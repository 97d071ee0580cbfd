"""RQ entry points of marketing (thin: ids in, counts out)."""
from __future__ import annotations

from app.jobs import last_attempt, run_job
from marketing import issues


def issue_coupons(issue_id: int) -> dict:
    """A targeted issue, enqueued on the `grants` queue by POST .../coupon-templates/{id}/issue under the
    job id `coupon-issue-<id>`; whether this try is RQ's last decides if a failure marks the issue failed."""
    return run_job("issue_coupons", issues.run_issue, issue_id=issue_id, last_try=last_attempt())
