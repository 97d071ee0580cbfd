"""RQ entry points of the `notify` queue (thin: the work is in notifications.service)."""
from __future__ import annotations

from datetime import date

from app.jobs import run_job
from notifications import reminders, service


def drain() -> dict:
    """Deliver every due message in batches (queued once per burst of new messages)."""
    return run_job("deliver_notifications", service.drain)


def sweep() -> dict:
    """Hourly: request a drain if anything is due (in case a request was lost)."""
    return run_job("deliver_pending_notifications", service.sweep)


def remind_expiring_coupons(day: date | None = None) -> dict:
    return run_job("remind_expiring_coupons", reminders.remind_expiring_coupons, day=day)


def remind_expiring_points(day: date | None = None) -> dict:
    return run_job("remind_expiring_points", reminders.remind_expiring_points, day=day)
