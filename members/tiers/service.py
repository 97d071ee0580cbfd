"""The tier ladder as data: growth, upgrades, reviews, benefit tables and the benefit grant jobs.

Rules (issue 4):
- growth crossing thresholds upgrades at once, possibly by several tiers, in the caller's transaction;
- downgrades only at the member's review date (policy: one step, or straight to what the period's growth
  supports), never below the entry tier; growth removed by a refund follows the refund policy;
- every tier change is a `TierChange` row and a `tier_changed` event;
- grants are keyed by (member, benefit, period) in the database, so a job re-run grants nothing twice.
"""
from __future__ import annotations

import calendar
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from types import SimpleNamespace

from sqlalchemy import bindparam, case, delete, extract, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app import clock, events
from app.audit import service as audit
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.sql import insert_ignore, insert_many
from members.models import Member, Tier
from members.tiers.models import DOWNGRADE_MODES, REFUND_MODES, BenefitGrant, GrowthEvent, TierChange, TierPolicy

log = logging.getLogger(__name__)

BATCH_SIZE = 500
GRANT_BATCH = 2000  # grants are set-based: a batch costs the same few statements at 500 or 2000 members
MAX_CATCH_UP = 20
REVIEW_RESET = "review_reset"  # the growth log row of a downgrade: lifetime growth lowered to the new tier
TIER_FIELDS = ("code", "name", "rank", "growth_threshold", "retention_threshold", "benefits", "review_rule",
               "review_month_day")


# --- policy -------------------------------------------------------------------------------------------

def get_policy() -> TierPolicy:
    """The one policy row, created on first use with INSERT .. ON CONFLICT DO NOTHING: two first purchases
    at once must not fail on the primary key."""
    policy = db.session.get(TierPolicy, 1)
    if policy is None:
        db.session.execute(insert_ignore(TierPolicy.__table__).values(
            id=1, downgrade_mode="one_step", refund_downgrade="at_review", updated_at=clock.now(),
        ))
        policy = db.session.get(TierPolicy, 1)
    return policy


def _policy_dict(policy: TierPolicy) -> dict:
    return {"downgrade_mode": policy.downgrade_mode, "refund_downgrade": policy.refund_downgrade}


def update_policy(changes: dict) -> TierPolicy:
    policy = get_policy()
    if changes.get("downgrade_mode", policy.downgrade_mode) not in DOWNGRADE_MODES:
        raise ValidationError("downgrade_mode", f"Must be one of {', '.join(DOWNGRADE_MODES)}.")
    if changes.get("refund_downgrade", policy.refund_downgrade) not in REFUND_MODES:
        raise ValidationError("refund_downgrade", f"Must be one of {', '.join(REFUND_MODES)}.")
    before = _policy_dict(policy)
    for name, value in changes.items():
        setattr(policy, name, value)
    audit.record("tier_policy.update", "tier_policy", 1, before, _policy_dict(policy))
    db.session.commit()
    return policy


# --- the ladder ---------------------------------------------------------------------------------------

def ladder() -> list[Tier]:
    return list(db.session.scalars(select(Tier).order_by(Tier.rank.asc())))


def ladder_copy() -> tuple[SimpleNamespace, ...]:
    """The ladder as committed now, lowest rank first, as read-only copies: the per-process copy behind
    the till's version token (points.config), read once per transaction. Every purchase asks for the
    member's tier and the tier its growth reaches; loading Tier rows for that cost two or three queries."""
    from points import config

    return config.current().tiers


def tier_of(member: Member) -> SimpleNamespace | None:
    """The member's tier (by `tier_id`, which `_change_tier` keeps in step with `member.tier`) as a copy."""
    return _tier_by_id(member.tier_id)


def _tier_by_id(tier_id: int | None) -> SimpleNamespace | None:
    if tier_id is None:
        return None
    return next((tier for tier in ladder_copy() if tier.id == tier_id), None)


def get_tier(tier_id: int) -> Tier:
    tier = db.session.get(Tier, tier_id)
    if tier is None:
        raise NotFound("No such tier.", code="tier_not_found")
    return tier


def entry_tier() -> Tier | None:
    return db.session.scalar(select(Tier).order_by(Tier.rank.asc()).limit(1))


def _tier_dict(tier: Tier) -> dict:
    return {name: getattr(tier, name) for name in TIER_FIELDS}


def check_coupon_templates(template_ids: list[int], field: str) -> None:
    """422 for a template the coupons domain does not know (its `get_template` raises NotFound or
    returns None; without that function, as in the placeholder, no template is known)."""
    from coupons import service as coupons_service

    lookup = getattr(coupons_service, "get_template", None)
    for template_id in template_ids:
        try:
            found = lookup(template_id) if lookup is not None else None
        except NotFound:
            found = None
        if found is None:
            raise ValidationError(field, f"Coupon template {template_id} does not exist.",
                                  code="unknown_coupon_template")


def _check_benefits(benefits: dict) -> dict:
    from marshmallow import ValidationError as SchemaError

    from members.tiers.schemas import TierBenefits

    try:
        clean = TierBenefits().load(benefits)
    except SchemaError as exc:
        name, reasons = next(iter(exc.normalized_messages().items()))
        raise ValidationError(f"benefits.{name}", str(reasons)) from None
    gift = clean.get("birthday_gift") or {}
    check_coupon_templates(gift.get("coupon_template_ids", []), "benefits.birthday_gift.coupon_template_ids")
    check_coupon_templates([p["coupon_template_id"] for p in clean.get("monthly_pack", [])], "benefits.monthly_pack")
    return clean


def _check_review(values: dict) -> None:
    if values["review_rule"] not in ("anniversary", "calendar"):
        raise ValidationError("review_rule", "Must be anniversary or calendar.")
    if values["review_rule"] == "calendar":
        month_day = values.get("review_month_day")
        try:
            month, day = (int(part) for part in (month_day or "").split("-"))
            date(2001, month, day)  # a non-leap year: 02-29 would skip three years in four
        except ValueError:
            raise ValidationError("review_month_day", "Needs a real MM-DD date (not 02-29).") from None
    else:
        values["review_month_day"] = None


def _check_ladder(changed: Tier, values: dict) -> None:
    """Ranks unique; a higher rank needs strictly more growth to enter and no less to stay."""
    others = [t for t in ladder() if t.id != changed.id]
    if any(t.rank == values["rank"] for t in others):
        raise ValidationError("rank", f"Another tier has rank {values['rank']}: ranks order the ladder.",
                              code="tier_rank_taken")
    if any(t.code == values["code"] for t in others):
        raise Conflict(f"Another tier has code {values['code']}.", code="tier_code_taken")
    rungs = sorted([(t.rank, t.growth_threshold, t.retention_threshold) for t in others]
                   + [(values["rank"], values["growth_threshold"], values["retention_threshold"])])
    for lower, higher in zip(rungs, rungs[1:], strict=False):
        if higher[1] <= lower[1]:
            raise ValidationError("growth_threshold", "A higher rank must need more growth than the rank below it.",
                                  code="thresholds_out_of_order")
        if higher[2] < lower[2]:
            raise ValidationError("retention_threshold", "A higher rank cannot need less growth to stay.",
                                  code="thresholds_out_of_order")


def save_tier(tier_id: int | None, changes: dict, *, audited: bool = True) -> Tier:
    """Create (tier_id None) or edit a tier; audited (the demo seed alone is not an operator's change).
    Takes effect for the next transaction only: past grants keep their payload, past purchases their points."""
    if tier_id is None:
        tier = Tier()
        before = None
        values = {"benefits": {}, "retention_threshold": 0, "review_rule": "anniversary",
                  "review_month_day": None, **changes}
    else:
        tier = get_tier(tier_id)
        before = _tier_dict(tier)
        values = {**before, **changes}
    if values["retention_threshold"] > values["growth_threshold"] and values["growth_threshold"] > 0:
        raise ValidationError("retention_threshold", "Staying cannot need more growth than entering.")
    _check_review(values)
    _check_ladder(tier, values)
    values["benefits"] = _check_benefits(values.get("benefits") or {})
    for name in TIER_FIELDS:
        setattr(tier, name, values[name])
    if tier_id is None:
        db.session.add(tier)
    db.session.flush()
    if audited:
        audit.record("tier.create" if tier_id is None else "tier.update", "tier", tier.id, before, _tier_dict(tier))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Another tier has this code or rank.", code="tier_conflict") from None
    return tier


# --- review dates -------------------------------------------------------------------------------------

def _add_years(day: date, years: int) -> date:
    year = day.year + years
    return date(year, day.month, min(day.day, calendar.monthrange(year, day.month)[1]))


def next_review_on(tier: Tier | SimpleNamespace, after: date) -> date | None:
    """The first review date after `after` for a member in `tier`; None for the entry tier."""
    tiers = ladder_copy()
    if not tiers or tier.id == tiers[0].id:
        return None
    if tier.review_rule == "calendar" and tier.review_month_day:
        month, day = (int(part) for part in tier.review_month_day.split("-"))
        candidate = date(after.year, month, day)
        return candidate if candidate > after else date(after.year + 1, month, day)
    return _add_years(after, 1)


# --- growth and tier changes --------------------------------------------------------------------------

def _tier_for_growth(growth: int) -> SimpleNamespace | None:
    """The highest tier whose entry threshold `growth` reaches."""
    reached = [tier for tier in ladder_copy() if tier.growth_threshold <= growth]
    return reached[-1] if reached else None


def _change_tier(member: Member, target: Tier | SimpleNamespace, reason: str, ref: str | None,
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


def _lock_member(member_id: int) -> Member:
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
_GROWTH_EVENT = insert(GrowthEvent.__table__)


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
    member = db.session.identity_map.get(identity_key(Member, member_id))
    if member is not None and member in db.session.dirty:
        db.session.flush()  # a tier change earlier in this transaction (a Core UPDATE does not autoflush)
    row = db.session.execute(_GROW, {"member_id": member_id, "delta": delta, "purchases": purchases}).one_or_none()
    if row is None:
        raise NotFound("No such member.", code="member_not_found")
    if member is not None:  # the copy in this session now shows what the UPDATE wrote
        for name in ("growth", "tier_id", "purchase_count"):
            set_committed_value(member, name, getattr(row, name))
    result = GrowthResult(None, row.purchase_count)
    if delta == 0:
        return result
    now = clock.now()
    db.session.execute(_GROWTH_EVENT, {"member_id": member_id, "delta": delta, "growth_after": row.growth,
                                       "reason": reason[:32], "ref": ref, "created_at": now})
    current = _tier_by_id(row.tier_id)
    target = _tier_for_growth(row.growth)
    if delta > 0:
        if target is not None and (current is None or target.rank > current.rank):
            return GrowthResult(_change_tier(_loaded(member_id), target, reason, ref, now, clock.business_today()),
                                row.purchase_count)
        return result
    if get_policy().refund_downgrade == "immediate":
        target = target or next(iter(ladder_copy()), None)
        if current is not None and target is not None and target.rank < current.rank:
            return GrowthResult(_change_tier(_loaded(member_id), target, reason, ref, now, clock.business_today()),
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


def _review_one(member_id: int, day: date, mode: str) -> bool:
    """Review one member whose review date has come; True when the tier changed."""
    member = _lock_member(member_id)
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
    _change_tier(member, target, "review", review_day.isoformat(), cutoff, review_day)
    return True


def _counts() -> dict:
    return {"scanned": 0, "changed": 0, "skipped": 0, "failed": 0}


def review_tiers(day: date | str | None = None, batch_size: int = BATCH_SIZE) -> dict:
    """Downgrade (or keep) every member whose review date is `day` or earlier; batches of members by id."""
    day = as_day(day)
    mode = get_policy().downgrade_mode
    counts, last_id = _counts(), 0
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


# --- membership multipliers ---------------------------------------------------------------------------

def membership_multipliers(member_id: int, day: date) -> list[dict]:
    """Named points multipliers (percent, 100 = x1) membership gives on business day `day`: the tier's,
    and while a paid VIP is active, the plan's and its VIP day's extra multiplier."""
    from members.vip import service as vip_service

    member = db.session.get(Member, member_id)
    if member is None:
        raise NotFound("No such member.", code="member_not_found")
    found: list[dict] = []
    tier = tier_of(member)
    if tier is not None:
        percent = int((tier.benefits or {}).get("points_multiplier_percent", 100))
        found.append({"name": f"tier:{tier.code}", "percent": percent})
    found.extend(vip_service.multipliers(member, day))
    return found


# --- birthday gifts -----------------------------------------------------------------------------------

def birthday_in(birthday: date, year: int) -> date:
    """The member's birthday in `year`; 29 February is celebrated on 28 February in other years."""
    if birthday.month == 2 and birthday.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, birthday.month, birthday.day)


def gift_day(birthday: date, year: int, when: str) -> date:
    day = birthday_in(birthday, year)
    return day.replace(day=1) if when == "month_start" else day


@dataclass
class Gift:
    """What one member is to receive for a benefit and period: the payload recorded with the grant, points
    (0 for none) and coupons as (template id, idempotency key)."""

    member_id: int
    source: str
    payload: dict
    points: int = 0
    points_key: str = ""
    coupons: list[tuple[int, str]] = field(default_factory=list)


def pack_coupons(pack: list[dict], key: str) -> list[tuple[int, str]]:
    """A coupon pack's coupons with their keys: `<key>:<template>:<n>`, n counting from 0 per template."""
    return [(int(p["coupon_template_id"]), f"{key}:{p['coupon_template_id']}:{n}")
            for p in pack for n in range(int(p.get("count", 1)))]


def already_granted(member_ids: list[int], benefit: str, period: str) -> set[int]:
    """Who of a batch already has the grant: one query per batch, a range on the unique index (member, benefit,
    period) rather than IN (2000 ids), whose placeholders cost more to build and parse than the read itself."""
    if not member_ids:
        return set()
    found = set(db.session.scalars(select(BenefitGrant.member_id).where(
        BenefitGrant.member_id.between(min(member_ids), max(member_ids)), BenefitGrant.benefit == benefit,
        BenefitGrant.period == period)))
    return found & set(member_ids)


def grant_benefits(benefit: str, period: str, gifts: list[Gift], *, reason: str, note: str | None = None) -> dict:
    """Grant a batch of gifts for one benefit and period inside the caller's transaction (the job commits
    the batch); returns counts {changed, skipped, failed}. The statements do not grow with the batch.

    1. INSERT .. ON CONFLICT DO NOTHING the `benefit_grants` rows: the unique (member, benefit, period) decides
       who gives each gift; a concurrent run waits on our uncommitted rows and then skips them (`skipped`).
    2. Lock the points accounts of the members getting points, before the coupon templates: the order a task
       reward or a mall redemption takes them in (account, then template), so neither can deadlock with us.
    3. coupons.grant_many: all of a member's coupons or none; a member refused one (stopped, ended, out of
       stock) gets nothing: their grant row is deleted again and a later run retries them (`failed`).
    4. points.credit_many for the rest, keyed per member and period like the coupons, and announced as a
       batch of points_credited events (one notification statement)."""
    from coupons import service as coupons_service
    from points import service as points_service

    counts = {"changed": 0, "skipped": 0, "failed": 0}
    if not gifts:
        return counts
    now = clock.now()
    owned: dict[int, int] = {}
    rows = [{"member_id": g.member_id, "benefit": benefit, "period": period, "source": g.source,
             "payload": g.payload, "created_at": now} for g in gifts]
    owned.update(insert_many(BenefitGrant.__table__, rows, ignore_conflicts=True, returning=("member_id", "id")))
    mine = [g for g in gifts if g.member_id in owned]
    counts["skipped"] = len(gifts) - len(mine)
    with_points = [g for g in mine if g.points > 0]
    if with_points:
        points_service.lock_accounts(g.member_id for g in with_points)
    failed = coupons_service.grant_many(
        [coupons_service.GrantItem(g.member_id, template_id, key) for g in mine for template_id, key in g.coupons],
        reason=reason)
    if failed:
        for member_id, error in sorted(failed.items()):
            log.warning("%s grant %s failed for member %s: %s", benefit, period, member_id, error.code)
        db.session.execute(delete(BenefitGrant).where(BenefitGrant.id.in_([owned[m] for m in failed])))
    points_service.credit_many("grant", [
        points_service.Credit(g.member_id, g.points, g.points_key, benefit, owned[g.member_id], note)
        for g in with_points if g.member_id not in failed])
    counts["failed"] = len(failed)
    counts["changed"] = len(mine) - len(failed)
    return counts


def _add(counts: dict, part: dict) -> None:
    for name, value in part.items():
        counts[name] += value


def _birthday_candidates(day: date):
    """Members whose gift may fall on `day`: birthday today, the month's first day, or 29 Feb on 28 Feb."""
    day_match = [extract("day", Member.birthday) == day.day]
    if day.day == 1:
        day_match.append(True)
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        day_match.append(extract("day", Member.birthday) == 29)
    return Member.birthday.is_not(None), extract("month", Member.birthday) == day.month, or_(*day_match)


def batch_checkpoint(job: str, batch: int) -> None:
    """Between a batch's writes and its commit. A no-op: tests replace it to crash a run mid-batch."""


def grant_birthday_gifts(day: date | str | None = None, batch_size: int = GRANT_BATCH) -> dict:
    """Give each member whose gift day is `day` their tier's birthday gift, once per year: keyset batches of
    members, each granted set-based (grant_benefits) and committed on its own. The tier's benefit table is
    read per batch, so a gift is what the member's tier gives at the time of the grant."""
    day = as_day(day)
    period = str(day.year)
    counts, last_id, number = _counts(), 0, 0
    while True:
        batch = db.session.execute(
            select(Member.id, Member.birthday, Member.tier_id).where(*_birthday_candidates(day), Member.id > last_id)
            .order_by(Member.id).limit(batch_size)).all()
        if not batch:
            break
        number += 1
        tiers = {t.id: t for t in ladder()}
        done = already_granted([m.id for m in batch], "birthday", period)
        gifts = []
        for member_id, birthday, tier_id in batch:
            tier = tiers.get(tier_id)
            gift = ((tier.benefits or {}) if tier else {}).get("birthday_gift") or {}
            points = int(gift.get("points") or 0)
            key = f"birthday:{member_id}:{day.year}"
            coupons = [(int(t), f"{key}:{t}:0") for t in gift.get("coupon_template_ids") or []]
            if member_id in done or (not points and not coupons) \
                    or gift_day(birthday, day.year, gift.get("when", "birthday")) != day:
                continue
            gifts.append(Gift(member_id, f"tier:{tier.code}", dict(gift), points, key, coupons))
        counts["scanned"] += len(batch)
        counts["skipped"] += len(batch) - len(gifts)
        _add(counts, grant_benefits("birthday", period, gifts, reason="birthday", note="birthday gift"))
        batch_checkpoint("birthday", number)
        db.session.commit()
        last_id = batch[-1].id
    return counts


# --- monthly packs ------------------------------------------------------------------------------------

def as_day(day: date | str | None) -> date:
    """Jobs get a business date, or its ISO string through a queue; None means today."""
    if day is None:
        return clock.business_today()
    if isinstance(day, datetime):
        return clock.to_business_date(day)
    if isinstance(day, date):
        return day
    try:
        return date.fromisoformat(str(day))
    except ValueError:
        raise ValidationError("day", "Must be YYYY-MM-DD.") from None


def parse_month(month: date | str | None) -> tuple[str, date]:
    """A month as "YYYY-MM", a date in it (the scheduler passes its first day), or None for this month."""
    if month is None or isinstance(month, date):
        first = as_day(month).replace(day=1)
    else:
        text = str(month)
        try:
            if not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", text):
                raise ValueError(text)
            first = date.fromisoformat(text if len(text) == 10 else f"{text}-01").replace(day=1)
        except ValueError:
            raise ValidationError("month", "Must be YYYY-MM.") from None
    return f"{first.year:04d}-{first.month:02d}", first


def grant_monthly_packs(month: date | str | None = None, batch_size: int = GRANT_BATCH) -> dict:
    """The tier's monthly coupon pack to every member of a tier that has one, and the VIP plan's pack to
    every member with an active VIP; once per member, benefit and month. Keyset batches, each granted
    set-based (grant_benefits) with the tier's pack as it is when the batch runs, and committed on its own."""
    from members.vip import service as vip_service

    period, first = parse_month(month)
    counts, last_id, number = _counts(), 0, 0
    while True:
        packs = {t.id: t for t in ladder() if (t.benefits or {}).get("monthly_pack")}
        if not packs:
            break
        batch = db.session.execute(
            select(Member.id, Member.tier_id).where(Member.tier_id.in_(list(packs)), Member.id > last_id)
            .order_by(Member.id).limit(batch_size)).all()
        if not batch:
            break
        number += 1
        done = already_granted([m.id for m in batch], "monthly_pack", period)
        gifts = []
        for member_id, tier_id in batch:
            if member_id in done:
                continue
            tier = packs[tier_id]
            pack = tier.benefits["monthly_pack"]
            gifts.append(Gift(member_id, f"tier:{tier.code}", {"monthly_pack": pack},
                              coupons=pack_coupons(pack, f"monthly_pack:{member_id}:{period}")))
        counts["scanned"] += len(batch)
        counts["skipped"] += len(batch) - len(gifts)
        _add(counts, grant_benefits("monthly_pack", period, gifts, reason="tier_monthly_pack"))
        batch_checkpoint("monthly_pack", number)
        db.session.commit()
        last_id = batch[-1].id
    vip_counts = vip_service.grant_vip_packs(period, first, batch_size)
    return {name: counts[name] + vip_counts[name] for name in counts}


def history(member_id: int, limit: int, cursor: str | None) -> dict:
    """The member's tier changes, newest first, with the tiers as {code, name}."""
    from app.pagination import keyset_page

    page = keyset_page(select(TierChange).where(TierChange.member_id == member_id), TierChange.id, limit, cursor)
    tiers = {t.id: t for t in ladder()}
    page["items"] = [{"id": c.id, "from_tier": tiers.get(c.from_tier_id), "to_tier": tiers.get(c.to_tier_id),
                      "reason": c.reason, "growth": c.growth, "created_at": c.created_at} for c in page["items"]]
    return page
