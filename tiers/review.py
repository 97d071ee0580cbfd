"""Tier reviews: downgrades happen only at the member's review date (policy: one step, or straight to what
the period's growth supports), never below the entry tier; a re-run changes nothing twice.

A review is set-based per batch of members, like the benefit grants: the batch's member rows are locked and
read with one statement, the growth each earned in its review period is one grouped SUM per review date in
the batch (one date on a daily run), and the outcomes are written with one statement per table (growth
resets, tier changes, members) and announced with one `tiers_changed` event (one notification statement).
The statements do not grow with the batch; a member-at-a-time review cost 6-10 per member (bench/README.md).
A batch that fails rolls back whole and fails the run, which RQ retries: the batches committed before it
are not reviewed twice, their members' review dates having moved on.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from types import SimpleNamespace

from sqlalchemy import func, or_, select

from app import clock, events
from app import jobs as job_runtime
from app.clock import as_day
from app.extensions import db
from app.sql import any_of, custom_plans, insert_many, update_many
from members.models import Member
from tiers.growth import REVIEW_RESET
from tiers.ladder import get_policy, ladder_copy, next_review_on
from tiers.models import GrowthEvent, TierChange

BATCH_SIZE = 2000
MAX_CATCH_UP = 20  # reviews missed for years are done one due date at a time, at most this many per run

_members = Member.__table__
_growth = GrowthEvent.__table__


@dataclass
class _Member:
    """A batch member's review state, as locked and then as decided (written back at the end of each round)."""

    id: int
    tier_id: int | None
    growth: int
    period_start: datetime | None
    review_on: date | None
    changed: bool = False

    def row(self) -> dict:
        return {"id": self.id, "tier_id": self.tier_id, "growth": self.growth,
                "tier_period_start": self.period_start, "tier_review_on": self.review_on}


def _lock_batch(day: date, last_id: int, batch_size: int) -> list[_Member]:
    """The next members due for review, locked (a purchase's growth waits for the batch's commit)."""
    rows = db.session.execute(
        select(_members.c.id, _members.c.tier_id, _members.c.growth, _members.c.tier_period_start,
               _members.c.tier_review_on)
        .where(_members.c.tier_review_on <= day, _members.c.id > last_id)
        .order_by(_members.c.id).limit(batch_size).with_for_update())
    return [_Member(*row) for row in rows]


def _period_growth(member_ids: list[int], review_day: date) -> dict[int, int]:
    """Growth each member earned in its review period ending at `review_day` (from its `tier_period_start`, as
    written): one grouped SUM over the growth log's (member, time) index. A downgrade's reset is bookkeeping,
    not earning."""
    rows = db.session.execute(
        select(_growth.c.member_id, func.sum(_growth.c.delta))
        .join(_members, _members.c.id == _growth.c.member_id)
        .where(any_of(_members.c.id, member_ids), _growth.c.reason != REVIEW_RESET,
               _growth.c.created_at < clock.start_of_business_day(review_day),
               or_(_members.c.tier_period_start.is_(None), _growth.c.created_at >= _members.c.tier_period_start))
        .group_by(_growth.c.member_id))
    return {member_id: int(total) for member_id, total in rows}


def _target(current: SimpleNamespace, below: list[SimpleNamespace], earned: int, mode: str) -> SimpleNamespace:
    """Where a downgrade goes: one step down, or (to_supported) the highest lower tier the period's growth
    keeps, at least the entry tier."""
    if mode == "to_supported":
        supported = [t for t in below if t.retention_threshold <= earned]
        return supported[-1] if supported else below[0]
    return below[-1]


class _Round:
    """The writes one review round decided, sent with one statement per table."""

    def __init__(self) -> None:
        self.members: list[_Member] = []
        self.resets: list[dict] = []
        self.changes: list[dict] = []

    def write(self) -> None:
        insert_many(_growth, self.resets)
        insert_many(TierChange.__table__, self.changes)
        update_many(_members, [member.row() for member in self.members])


def _review_round(due: list[_Member], mode: str, announced: list[dict]) -> None:
    """Review each due member once, at its own review date (the date the catch-up has reached)."""
    ladder = ladder_copy()
    tiers = {tier.id: tier for tier in ladder}
    now, writes = clock.now(), _Round()
    by_day: dict[date, list[_Member]] = defaultdict(list)
    for member in due:
        by_day[member.review_on].append(member)
    for review_day, members in sorted(by_day.items()):
        earned = _period_growth([m.id for m in members], review_day)
        cutoff, ref = clock.start_of_business_day(review_day), review_day.isoformat()
        for member in members:
            writes.members.append(member)
            current = tiers[member.tier_id]
            member_earned = earned.get(member.id, 0)
            if member_earned >= current.retention_threshold:
                member.period_start = cutoff
                member.review_on = next_review_on(current, review_day)
                continue
            below = [t for t in ladder if t.rank < current.rank]
            if not below:  # already the entry tier
                member.review_on = None
                continue
            target = _target(current, below, member_earned, mode)
            if member.growth > target.growth_threshold:  # else the next purchase would lift them straight back
                writes.resets.append({"member_id": member.id, "delta": target.growth_threshold - member.growth,
                                      "growth_after": target.growth_threshold, "reason": REVIEW_RESET, "ref": ref,
                                      "created_at": now})
                member.growth = target.growth_threshold
            writes.changes.append({"member_id": member.id, "from_tier_id": current.id, "to_tier_id": target.id,
                                   "reason": "review", "ref": ref, "growth": member.growth, "created_at": now})
            announced.append({"member_id": member.id, "from_tier": current.code, "to_tier": target.code,
                              "reason": "review"})
            member.tier_id, member.period_start, member.changed = target.id, cutoff, True
            member.review_on = next_review_on(target, review_day)
    writes.write()


def _review_batch(members: list[_Member], day: date, mode: str) -> None:
    """Review a locked batch inside the caller's transaction: round after round while review dates missed
    for years are still due, each round's writes made before the next round reads the periods they moved."""
    announced: list[dict] = []
    due = [m for m in members if m.tier_id is not None]
    for _ in range(MAX_CATCH_UP):
        due = [m for m in due if m.review_on is not None and m.review_on <= day]
        if not due:
            break
        _review_round(due, mode, announced)
    if announced:
        events.tiers_changed.send(None, changes=announced)


def review_tiers(day: date | str | None = None, batch_size: int = BATCH_SIZE) -> dict:
    """Downgrade (or keep) every member whose review date is `day` or earlier: keyset batches of members by
    id, each reviewed set-based (_review_batch) and committed on its own."""
    day = as_day(day)
    mode = get_policy().downgrade_mode
    counts, last_id = job_runtime.zero_counts(), 0
    while True:
        custom_plans()  # the SUM's plan is made for this batch's ids (app.sql.custom_plans)
        members = _lock_batch(day, last_id, batch_size)
        if not members:
            break
        _review_batch(members, day, mode)
        changed = sum(member.changed for member in members)
        counts["scanned"] += len(members)
        counts["changed"] += changed
        counts["skipped"] += len(members) - changed
        db.session.commit()
        last_id = members[-1].id
    db.session.commit()
    return counts
