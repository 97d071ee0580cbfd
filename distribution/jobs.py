"""RQ entry points for distribution (thin: the work is in distribution.commission and distribution.levels)."""
from __future__ import annotations

from app.jobs import run_job
from distribution import commission, levels


def settle_commissions() -> dict:
    return run_job("settle_commissions", commission.settle_due)


def review_promoter_levels() -> dict:
    return run_job("review_promoter_levels", levels.review)
