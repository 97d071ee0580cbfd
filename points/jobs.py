"""RQ entry points for the points workers (thin: the work is in points.expiry)."""
from __future__ import annotations

from datetime import date

from app.jobs import run_job
from points import expiry


def expire_points_lots(day: date | None = None, shard: int = 0, shards: int = 1) -> dict:
    return run_job("expire_points_lots", expiry.expire_points_lots, day=day, shard=shard, shards=shards)


def activate_pending_points() -> dict:
    return run_job("activate_pending_points", expiry.activate_pending_points)
