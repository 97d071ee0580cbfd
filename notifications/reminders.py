"""The reminders marketing's members get before they lose something: points expiring in a week, coupons
expiring in a few days. Each finds what is due in batches and records one message per member and date (or
per coupon) through the notification's idempotency key; the notify queue sends them."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from app import clock
from app import jobs as job_runtime
from app.extensions import db
from coupons import expiry as coupon_expiry
from notifications.service import Item, create_many
from points.models import PointsLot

POINTS_REMINDER_DAYS = 7


def remind_expiring_points(day: date | None = None, batch_size: int = 1000) -> dict:
    """One WeChat reminder per member whose points expire at the end of business day `day` + 7; at most
    once per (member, that day) by the notification's idempotency key."""
    day = day or clock.business_today()
    target = day + timedelta(days=POINTS_REMINDER_DAYS)
    low, high = clock.start_of_business_day(target), clock.end_of_business_day(target)
    counts, after_member = job_runtime.zero_counts(), 0
    while True:
        rows = list(db.session.execute(
            select(PointsLot.member_id, func.sum(PointsLot.remaining))
            .where(PointsLot.state == "open", PointsLot.remaining > 0, PointsLot.expires_at > low,
                   PointsLot.expires_at <= high, PointsLot.member_id > after_member)
            .group_by(PointsLot.member_id).order_by(PointsLot.member_id).limit(batch_size)
        ))
        if not rows:
            break
        after_member = rows[-1][0]
        items = [
            Item(member_id=member_id, key=f"points_expiring:{member_id}:{target.isoformat()}",
                               data={"points": int(total), "expires_on": target.isoformat()})
            for member_id, total in rows
        ]
        created = create_many("points_expiring", items)
        counts["scanned"] += len(rows)
        counts["changed"] += created
        counts["skipped"] += len(rows) - created
        job_runtime.batch_done(counts)
    return counts


def _last_day(valid_until: datetime) -> date:
    """The last business day a coupon can be used: it is valid until an instant that is usually the start of
    the next day (a template's end date "2026-03-03" ends at 00:00 on 03-04), and the member reads a day."""
    return clock.to_business_date(clock.as_utc(valid_until) - timedelta(microseconds=1))


def remind_expiring_coupons(day=None, days: int = 3, batch_size: int = 1000) -> dict:
    """One reminder per coupon expiring within `days` days (coupons.expiry finds them), once per coupon."""
    counts = job_runtime.zero_counts()
    after_id = 0
    while True:
        coupons_due = list(coupon_expiry.coupons_expiring_within(days, after_id=after_id, limit=batch_size))
        if not coupons_due:
            return counts
        items = [Item(member_id=c["member_id"], key=f"coupon_expiring:{c['id']}",
                      data={"title": c["title"], "expires_on": _last_day(c["valid_until"]).isoformat()})
                 for c in coupons_due]
        after_id = coupons_due[-1]["id"]
        created = create_many("coupon_expiring", items)
        counts["scanned"] += len(items)
        counts["changed"] += created
        counts["skipped"] += len(items) - created
