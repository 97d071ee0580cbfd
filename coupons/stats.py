"""Coupon figures for the reports."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from app import clock
from app.extensions import db
from coupons.models import Coupon

# --- figures for reports ------------------------------------------------------------------------------

def coupon_stats(start: datetime | None = None, end: datetime | None = None) -> dict:
    """Coupons issued, used and expired in [start, end) (all time when None), and the use rate in percent
    (used / issued of coupons issued in the window, 0 when none): what the reports summary shows.
    "expired" counts coupons whose last valid day is in the window, unused: a coupon valid through 2 March ends
    at the first instant of 3 March, so its end is matched in (start, end], not [start, end)."""
    def window(column, closed_end: bool = False):
        conditions = []
        if start is not None:
            conditions.append(column > start if closed_end else column >= start)
        if end is not None:
            conditions.append(column <= end if closed_end else column < end)
        return conditions

    issued = db.session.scalar(select(func.count(Coupon.id)).where(*window(Coupon.created_at)))
    used = db.session.scalar(select(func.count(Coupon.id)).where(Coupon.state == "used", *window(Coupon.used_at)))
    used_of_issued = db.session.scalar(select(func.count(Coupon.id)).where(Coupon.state == "used",
                                                                           *window(Coupon.created_at)))
    expired = db.session.scalar(select(func.count(Coupon.id)).where(
        Coupon.state.in_(("available", "expired")), Coupon.valid_until <= clock.now(),
        *window(Coupon.valid_until, closed_end=True)))
    return {"issued": issued, "used": used, "expired": expired,
            "use_rate": round(100 * used_of_issued / issued, 1) if issued else 0}
