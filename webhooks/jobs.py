"""RQ entry points of the `webhooks` queue (thin: the work is in webhooks.delivery)."""
from __future__ import annotations

from app.jobs import run_job
from webhooks import delivery


def drain(slot: int = 0) -> dict:
    """Deliver every due webhook in batches (queued after each commit that wrote events)."""
    return run_job("deliver_webhooks", delivery.drain, slot=slot)


def sweep() -> dict:
    """Hourly: request drains if anything is due."""
    return run_job("sweep_webhooks", delivery.sweep)
