"""Growth value (成长值) and tier changes (issue 4):
- growth crossing thresholds upgrades at once, possibly by several tiers, in the caller's transaction;
- growth removed by a refund follows the refund policy (at once, or at the review);
- every tier change is a `TierChange` row and a `tier_changed` event.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime
from types import SimpleNamespace

from sqlalchemy import bindparam, case, func, insert, select, update

from app import clock, events, fast_writes, pipeline
from app.errors import NotFound
from app.extensions import db
from app.sql import insert_many
from members.models import Member, Tier
from tiers.ladder import get_policy, ladder_copy, next_review_on, tier_by_id, tier_of
from tiers.models import GrowthEvent, TierChange

log = logging.getLogger(__name__)
REVIEW_RESET = "review_reset"  # the growth log row of a downgrade: lifetime growth lowered to the new tier
OPENING = "opening"  # the tier change of an imported member (onboarding/)


# --- growth and tier changes --------------------------------------------------------------------------

def _tier_for_growth(growth: int) -> SimpleNamespace | None:
    """The highest tier whose entry threshold `growth` reaches."""
    reached = [tier for tier in ladder_copy() if tier.growth_threshold <= growth]
    return reached[-1] if reached else None


def change_tier(member: Member, target: Tier | SimpleNamespace, reason: str, ref: str | None,
                 period_start: datetime, review_from: date) -> dict:
    """Move the member to `target` (a Tier row or its copy; the relationship gets the row, loaded only here,
    when the tier really changes)."""
    current = tier_of(member)
    db.session.add(TierChange(member_id=member.id, from_tier_id=current.id if current else None, to_tier_id=target.id,
                              reason=reason, ref=ref, growth=member.growth, created_at=clock.now()))
    member.tier = target if isinstance(target, Tier) else db.session.get(Tier, target.id)
    member.tier_id = target.id
    member.tier_period_start = period_start
    member.tier_review_on = next_review_on(target, review_from)
    change = {"from": current.code if current else None, "to": target.code}
    events.tier_changed.send(None, member_id=member.id, from_tier=change["from"], to_tier=target.code, reason=reason)
    return change


def opening_tiers(wanted: list[tuple[str | None, int]], today: date) -> list[tuple[SimpleNamespace | None,
                                                                                 date | None]]:
    """The tier and first review date each imported member starts with, for (tier code or None, growth): the
    tier the brand's file names (a code of the ladder), else the highest one the growth reaches, else the entry
    tier. The ladder is read once for the whole list, and each tier's review date computed once."""
    tiers = ladder_copy()
    by_code = {tier.code: tier for tier in tiers}
    reviews: dict[int, date | None] = {}
    found = []
    for code, growth in wanted:
        tier = by_code[code] if code else next((t for t in reversed(tiers) if t.growth_threshold <= growth),
                                               tiers[0] if tiers else None)
        if tier is not None and tier.id not in reviews:
            reviews[tier.id] = next_review_on(tier, today)
        found.append((tier, reviews[tier.id] if tier is not None else None))
    return found


def record_openings(openings: list[tuple[int, int | None, int]], ref: str) -> None:
    """The history of members an import created with their tier and growth ((member id, tier id, growth)):
    one tier change from no tier (reason `opening`, the growth they came with) above the entry tier (a new
    member enters that one with no change row either), one INSERT per call. No growth log row: the imported
    growth was not earned here, and the first review judges only growth earned since the import (the log is
    what a review sums). No `tier_changed` announcement: an imported tier is no upgrade to congratulate."""
    now = clock.now()
    tiers = ladder_copy()
    entry = tiers[0].id if tiers else None
    insert_many(TierChange.__table__, [
        {"member_id": member_id, "from_tier_id": None, "to_tier_id": tier_id, "reason": OPENING, "ref": ref,
         "growth": growth, "created_at": now} for member_id, tier_id, growth in openings
        if tier_id is not None and tier_id != entry])


def lock_member(member_id: int) -> Member:
    member = db.session.scalar(
        select(Member).where(Member.id == member_id).with_for_update().execution_options(populate_existing=True)
    )
    if member is None:
        raise NotFound("No such member.", code="member_not_found")
    return member


_members = Member.__table__
# One statement both changes growth (never below zero) and, for a till purchase, counts the purchase; the
# UPDATE takes the member row's lock, and RETURNING gives what the tier rules need, as committed before us.
_GROW = (update(_members).where(_members.c.id == bindparam("member_id"))
         .values(growth=case((_members.c.growth + bindparam("delta") < 0, 0),
                             else_=_members.c.growth + bindparam("delta")),
                 purchase_count=_members.c.purchase_count + bindparam("purchases"))
         .returning(_members.c.growth, _members.c.tier_id, _members.c.purchase_count))
GROWN = ("growth", "tier_id", "purchase_count")  # what _GROW's RETURNING gives back to the session's copy
_GROWTH_EVENT = pipeline.queued(insert(GrowthEvent.__table__))  # nothing reads its answer


@dataclass(frozen=True)
class GrowthResult:
    change: dict | None  # {"from", "to"} tier codes when the tier changed
    purchase_count: int  # the member's purchases, this one included (1 = a first purchase)


def add_growth(member_id: int, delta: int, reason: str, ref: str | None = None) -> dict | None:
    """Change growth value (成长值) inside the caller's transaction. Crossing thresholds upgrades at once,
    possibly by several tiers; removed growth (a refund) downgrades at once only under the `immediate`
    refund policy, else the review decides. Returns {"from", "to"} tier codes when the tier changed."""
    if not isinstance(delta, int) or isinstance(delta, bool):
        raise ValueError(f"growth delta must be an int, got {delta!r}")
    if delta == 0:
        return None
    return _grow(member_id, delta, reason, ref, purchases=0).change


def add_purchase(member_id: int, growth: int, ref: str) -> GrowthResult:
    """A till purchase: its growth (the same rules as add_growth) and the member's purchase count, in one
    statement under the member row's lock, so "first purchase" is exact however purchases race."""
    if not isinstance(growth, int) or isinstance(growth, bool) or growth < 0:
        raise ValueError(f"a purchase's growth must be a non-negative int, got {growth!r}")
    return _grow(member_id, growth, "purchase", ref, purchases=1)


def _grow(member_id: int, delta: int, reason: str, ref: str | None, purchases: int) -> GrowthResult:
    member = fast_writes.in_session(Member, member_id)
    if member is not None and member in db.session.dirty:
        db.session.flush()  # a tier change earlier in this transaction (a Core UPDATE does not autoflush)
    row = db.session.execute(_GROW, {"member_id": member_id, "delta": delta, "purchases": purchases}).one_or_none()
    if row is None:
        raise NotFound("No such member.", code="member_not_found")
    if member is not None:  # the copy in this session now shows what the UPDATE wrote
        fast_writes.mark_written(member, GROWN, row._asdict())
    result = GrowthResult(None, row.purchase_count)
    if delta == 0:
        return result
    now = clock.now()
    db.session.execute(_GROWTH_EVENT, {"member_id": member_id, "delta": delta, "growth_after": row.growth,
                                       "reason": reason[:32], "ref": ref, "created_at": now})
    current = tier_by_id(row.tier_id)
    target = _tier_for_growth(row.growth)
    if delta > 0:
        if target is not None and (current is None or target.rank > current.rank):
            return GrowthResult(change_tier(_loaded(member_id), target, reason, ref, now, clock.business_today()),
                                row.purchase_count)
        return result
    if get_policy().refund_downgrade == "immediate":
        target = target or next(iter(ladder_copy()), None)
        if current is not None and target is not None and target.rank < current.rank:
            return GrowthResult(change_tier(_loaded(member_id), target, reason, ref, now, clock.business_today()),
                                row.purchase_count)
    return result


def _loaded(member_id: int) -> Member:
    """The member as an object, for a tier change (rare): the one in the session was synced by _grow, else
    a read after the UPDATE sees what it wrote."""
    return db.session.get(Member, member_id)


def period_growth(member: Member, until: datetime) -> int:
    """Growth earned in the member's review period: a downgrade's reset is bookkeeping, not earning."""
    stmt = select(func.coalesce(func.sum(GrowthEvent.delta), 0)).where(
        GrowthEvent.member_id == member.id, GrowthEvent.created_at < until, GrowthEvent.reason != REVIEW_RESET)
    if member.tier_period_start is not None:
        stmt = stmt.where(GrowthEvent.created_at >= member.tier_period_start)
    return int(db.session.scalar(stmt))
