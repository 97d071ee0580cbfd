"""RQ entry points of the `notify` queue (thin: the work is in notifications.service)."""
from __future__ import annotations

from datetime import date

from app.jobs import run_job
from notifications import reminders, service


def deliver(ids: list[int]) -> dict:
    return run_job("deliver_notifications", service.deliver, ids=ids)


def deliver_pending() -> dict:
    return run_job("deliver_pending_notifications", service.deliver_pending)


def remind_expiring_coupons(day: date | None = None) -> dict:
    return run_job("remind_expiring_coupons", reminders.remind_expiring_coupons, day=day)


def remind_expiring_points(day: date | None = None) -> dict:
    return run_job("remind_expiring_points", reminders.remind_expiring_points, day=day)
