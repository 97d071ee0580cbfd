"""Coupon expiry: available coupons past their end become expired, in batches; and the coupons about to
expire, for the reminders."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app import clock, events
from app.extensions import db
from coupons.models import Coupon

EXPIRE_BATCH = 1000

# --- expiry ---------------------------------------------------------------------------------------------

def expire_coupons(batch_size: int = EXPIRE_BATCH) -> dict:
    """Mark available coupons past their end as expired, in keyset batches each committed on its own;
    re-runnable (a second run finds nothing). Returns {"scanned", "changed", "skipped", "failed"}."""
    now = clock.now()
    counts = {"scanned": 0, "changed": 0, "skipped": 0, "failed": 0}
    last_id = 0
    while True:
        ids = list(db.session.scalars(select(Coupon.id).where(
            Coupon.state == "available", Coupon.valid_until <= now, Coupon.id > last_id)
            .order_by(Coupon.id).limit(batch_size)))
        if not ids:
            break
        result = db.session.execute(update(Coupon).where(Coupon.id.in_(ids), Coupon.state == "available")
                                    .values(state="expired").execution_options(synchronize_session=False))
        if result.rowcount:
            events.coupons_expired.send(None, coupon_ids=ids)
        db.session.commit()
        counts["scanned"] += len(ids)
        counts["changed"] += result.rowcount
        counts["skipped"] += len(ids) - result.rowcount
        last_id = ids[-1]
    return counts


def coupons_expiring_within(days: int, after_id: int = 0, limit: int = 1000) -> list[dict]:
    """Available coupons ending within `days` days from now (for the reminder message), keyset-paged by id:
    pass the last id back as `after_id` until an empty list. The scheduler decides how often to remind."""
    now = clock.now()
    rows = db.session.execute(
        select(Coupon.id, Coupon.member_id, Coupon.code, Coupon.title, Coupon.valid_until)
        .where(Coupon.state == "available", Coupon.valid_until > now,
               Coupon.valid_until <= now + timedelta(days=days), Coupon.id > after_id)
        .order_by(Coupon.id).limit(limit)
    )
    return [{"id": r.id, "member_id": r.member_id, "code": r.code, "title": r.title, "valid_until": r.valid_until}
            for r in rows]
