"""Benefit grants: birthday gifts, the tiers' monthly coupon packs and the paid VIP's packs.

Grants are keyed by (member, benefit, period) in the database, so a job re-run grants nothing twice; each
batch is granted set-based and committed on its own.
"""

import calendar
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import delete, extract, or_, select

from app import clock
from app import jobs as job_runtime
from app.clock import as_day, parse_month
from app.extensions import db
from app.sql import insert_many
from coupons import issuing
from members.models import Member
from points import ledger as points_service
from tiers.ladder import ladder
from tiers.models import BenefitGrant
from vip.models import VipPeriod, VipPlan

log = logging.getLogger(__name__)
GRANT_BATCH = 2000  # grants are set-based: a batch costs the same few statements at 500 or 2000 members


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
    failed = issuing.grant_many(
        [issuing.GrantItem(g.member_id, template_id, key) for g in mine for template_id, key in g.coupons],
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
    counts, last_id, number = job_runtime.zero_counts(), 0, 0
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

def grant_monthly_packs(month: date | str | None = None, batch_size: int = GRANT_BATCH) -> dict:
    """The tier's monthly coupon pack to every member of a tier that has one, and the VIP plan's pack to
    every member with an active VIP; once per member, benefit and month. Keyset batches, each granted
    set-based (grant_benefits) with the tier's pack as it is when the batch runs, and committed on its own."""

    period, first = parse_month(month)
    counts, last_id, number = job_runtime.zero_counts(), 0, 0
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
    vip_counts = grant_vip_packs(period, first, batch_size)
    return {name: counts[name] + vip_counts[name] for name in counts}


def _vip_moment(first: date) -> datetime:
    """The instant whose active VIP periods get the month's pack: now within the month, else its start."""
    now = clock.now()
    month_start = clock.start_of_business_day(first)
    next_month = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return now if month_start <= now < clock.start_of_business_day(next_month) else month_start


def _vip_gifts(member_ids: list[int], period: str, moment: datetime) -> list[Gift]:
    """The VIP packs these members (ids ascending, each with a period active at `moment`) have not had."""
    active = (VipPeriod.starts_at <= moment, VipPeriod.ends_at > moment)
    plan_of: dict[int, int] = {}
    for member_id, plan_id in db.session.execute(  # as active_period: the period ending last wins
            select(VipPeriod.member_id, VipPeriod.plan_id)
            .where(*active, VipPeriod.member_id.between(member_ids[0], member_ids[-1]))
            .order_by(VipPeriod.member_id, VipPeriod.ends_at.asc())):
        plan_of[member_id] = plan_id
    plans = {p.id: p for p in db.session.scalars(select(VipPlan).where(VipPlan.id.in_(set(plan_of.values()))))}
    done = already_granted(member_ids, "vip_pack", period)
    gifts = []
    for member_id in member_ids:
        if member_id not in plan_of:
            continue
        plan = plans[plan_of[member_id]]
        pack = (plan.benefits or {}).get("monthly_pack") or []
        if pack and member_id not in done:
            coupons = pack_coupons(pack, f"vip_pack:{member_id}:{period}")
            gifts.append(Gift(member_id, f"vip:{plan.code}", {"monthly_pack": pack}, coupons=coupons))
    return gifts


def grant_vip_packs(period: str, first: date, batch_size: int = 2000) -> dict:
    """The plan's monthly coupon pack to each member whose VIP is active in the month (once per month):
    keyset batches of members, their active periods and plans read per batch, granted set-based
    (grant_benefits) and committed batch by batch."""
    moment = _vip_moment(first)
    active = (VipPeriod.starts_at <= moment, VipPeriod.ends_at > moment)
    counts, last_id, number = job_runtime.zero_counts(), 0, 0
    while True:
        member_ids = list(db.session.scalars(
            select(VipPeriod.member_id).where(*active, VipPeriod.member_id > last_id)
            .group_by(VipPeriod.member_id).order_by(VipPeriod.member_id).limit(batch_size)))
        if not member_ids:
            break
        number += 1
        gifts = _vip_gifts(member_ids, period, moment)
        counts["scanned"] += len(member_ids)
        counts["skipped"] += len(member_ids) - len(gifts)
        for name, value in grant_benefits("vip_pack", period, gifts, reason="vip_monthly_pack").items():
            counts[name] += value
        batch_checkpoint("vip_pack", number)
        db.session.commit()
        last_id = member_ids[-1]
    return counts


def grant_vip_pack_now(member_id: int) -> dict:
    """This month's VIP pack for a member whose card was just paid, inside the payment's transaction: the
    same grant row and coupon keys as the monthly job's, so the month's run skips them."""
    period, first = clock.parse_month(None)
    gifts = _vip_gifts([member_id], period, _vip_moment(first))
    return grant_benefits("vip_pack", period, gifts, reason="vip_monthly_pack")
