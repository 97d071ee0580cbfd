"""RQ entry points for the reports (thin: dates in, the service does the work, counts out)."""
from __future__ import annotations

from datetime import date

from app import clock
from app.jobs import run_job
from marketing import segments
from reports import rollups


def _day(day: str | date | None) -> date | None:
    """None stays None: each report job has its own default day (a rollup's is yesterday)."""
    return None if day is None else clock.as_day(day)


def rollup_daily(day: str | date | None = None) -> dict:
    """Roll up one closed business day (default yesterday)."""

    return run_job("rollup_daily", rollups.rollup_daily, day=_day(day))


def recompute_lifecycle(day: str | date | None = None) -> dict:
    """Lifecycle stages and the automatic tags (channel, tier, VIP, birthday month, lifecycle)."""

    return run_job("recompute_lifecycle", segments.recompute_lifecycle, day=_day(day))


def compute_rfm(day: str | date | None = None) -> dict:
    """RFM scores and segments, super users (and their tag) and KOC candidates."""

    def both(day: date | None) -> dict:
        counts = segments.compute_rfm(day)
        counts["koc"] = segments.compute_koc(day)["scanned"]
        return counts

    return run_job("compute_rfm", both, day=_day(day))
