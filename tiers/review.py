"""Tier reviews: downgrades happen only at the member's review date (policy: one step, or straight to what
the period's growth supports), never below the entry tier; a re-run changes nothing twice."""

import logging
from datetime import date

from sqlalchemy import select

from app import clock
from app import jobs as job_runtime
from app.clock import as_day
from app.extensions import db
from members.models import Member
from tiers.growth import REVIEW_RESET, change_tier, lock_member, period_growth
from tiers.ladder import get_policy, ladder, next_review_on
from tiers.models import GrowthEvent

log = logging.getLogger(__name__)
BATCH_SIZE = 500
MAX_CATCH_UP = 20


def _review_one(member_id: int, day: date, mode: str) -> bool:
    """Review one member whose review date has come; True when the tier changed."""
    member = lock_member(member_id)
    if member.tier_review_on is None or member.tier_review_on > day or member.tier is None:
        return False
    review_day = member.tier_review_on
    cutoff = clock.start_of_business_day(review_day)
    current = member.tier
    earned = period_growth(member, cutoff)
    if earned >= current.retention_threshold:
        member.tier_period_start = cutoff
        member.tier_review_on = next_review_on(current, review_day)
        return False
    below = [t for t in ladder() if t.rank < current.rank]
    if not below:  # already the entry tier
        member.tier_review_on = None
        return False
    if mode == "to_supported":
        supported = [t for t in below if t.retention_threshold <= earned]
        target = supported[-1] if supported else below[0]
    else:
        target = below[-1]
    if member.growth > target.growth_threshold:  # else the next purchase would lift them straight back
        db.session.add(GrowthEvent(member_id=member.id, delta=target.growth_threshold - member.growth,
                                   growth_after=target.growth_threshold, reason=REVIEW_RESET,
                                   ref=review_day.isoformat(), created_at=clock.now()))
        member.growth = target.growth_threshold
    change_tier(member, target, "review", review_day.isoformat(), cutoff, review_day)
    return True


def review_tiers(day: date | str | None = None, batch_size: int = BATCH_SIZE) -> dict:
    """Downgrade (or keep) every member whose review date is `day` or earlier; batches of members by id."""
    day = as_day(day)
    mode = get_policy().downgrade_mode
    counts, last_id = job_runtime.zero_counts(), 0
    while True:
        ids = list(db.session.scalars(
            select(Member.id).where(Member.tier_review_on <= day, Member.id > last_id)
            .order_by(Member.id).limit(batch_size)))
        if not ids:
            break
        for member_id in ids:
            counts["scanned"] += 1
            try:
                with db.session.begin_nested():
                    changed = False
                    for _ in range(MAX_CATCH_UP):  # reviews missed for years are done one due date at a time
                        changed = _review_one(member_id, day, mode) or changed
                        member = db.session.get(Member, member_id)
                        if member.tier_review_on is None or member.tier_review_on > day:
                            break
                counts["changed" if changed else "skipped"] += 1
            except Exception:
                log.exception("tier review failed for member %s", member_id)
                counts["failed"] += 1
        db.session.commit()
        last_id = ids[-1]
    return counts
