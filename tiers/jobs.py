"""RQ entry point of the tier ladder (thin: a business date in, counts out)."""
from __future__ import annotations

from datetime import date

from app.jobs import run_job
from tiers import review


def review_tiers(day: date | str | None = None) -> dict:
    return run_job("review_tiers", review.review_tiers, day=day)
