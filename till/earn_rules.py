"""Earn rules: campaign multipliers on the points a purchase earns, and how they combine.

How earn rules combine (also in README, "How earn rules combine"):

1. Base points = paid (fen) x points_per_yuan / 100, spread over the lines in proportion to their totals
   (after member prices), so a line's share decides which category/SKU rules it meets.
2. Membership multipliers (`till.membership.membership_multipliers`: the tier's, the VIP's) multiply
   together and with the base: base x M. `applied_rules` names the base (type "base") and each multiplier
   (type "membership") with what it added over those before it.
3. For each line, the earn rules that match it (active; tier, category, SKU lists empty or containing the
   member's tier / the line's category / SKU; the business day within start_date..end_date and among the
   ISO weekdays) are ordered by priority (highest first, then lowest id).
   - The first rule always applies. If it is not stackable (exclusive), it is the only rule for that line.
   - Otherwise every stackable matching rule applies to that line; non-stackable rules ranked below a
     stackable one are skipped (an exclusive rule never combines with another).
   - Applied rules add their bonuses, they do not multiply: 200% + 150% gives 100 + 100 + 50 = 250%.
     A rule's bonus points are line base x M x (percent - 100) / 100.
4. Caps are per rule: `cap_per_order` limits the bonus points the rule gives one purchase, `cap_per_day`
   the bonus it gives one member on one business day (counted from `earn_rule_uses`). Membership points
   are never capped. A refund releases the refunded share of a purchase's bonus from the day it was earned
   (`release_uses`), so a purchase given back does not keep using up the member's cap.
5. Points = floor(base x M) + the sum of each rule's floored, capped bonus; `applied_rules` lists every
   rule with the points it added and whether a cap cut it, so its points add up to the purchase's.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from fractions import Fraction
from types import SimpleNamespace

from sqlalchemy import func, insert, select

from app import config_cache, pipeline
from app.audit import service as audit
from app.errors import NotFound, ValidationError
from app.extensions import db
from app.pagination import keyset_page
from catalog import service as products
from members.models import Member
from points.models import PointsPolicy
from tiers import ladder
from till import membership
from till.models import EarnRule, EarnRuleUse

FIELDS = ("name", "percent", "tiers", "categories", "skus", "weekdays", "start_date", "end_date", "priority",
          "stackable", "cap_per_order", "cap_per_day", "active")
MAX_POINTS_PER_ORDER = 100_000_000  # a sanity ceiling far above any real basket; keeps sums in 32-bit columns


active_copy = config_cache.register(
    "earn_rules", lambda: tuple(config_cache.copy_row(r) for r in db.session.scalars(
        select(EarnRule).where(EarnRule.active.is_(True)).order_by(EarnRule.id))), (EarnRule,))
"""The active earn rules as committed now, in id order: what every quote and purchase matches."""


def as_dict(rule: EarnRule) -> dict:
    return {"id": rule.id} | {name: getattr(rule, name) for name in FIELDS}


def get(rule_id: int) -> EarnRule:
    rule = db.session.get(EarnRule, rule_id)
    if rule is None:
        raise NotFound(f"No earn rule {rule_id}.", code="earn_rule_not_found")
    return rule


def listing(active: bool | None, limit: int, cursor: str | None) -> dict:
    """Rules in id order, each with its warnings: a rule saved before the exclusive rule that now shadows it
    is as dead as one saved after, and the list is where marketing sees it."""
    stmt = select(EarnRule)
    if active is not None:
        stmt = stmt.where(EarnRule.active.is_(active))
    page = keyset_page(stmt, EarnRule.id, limit, cursor, newest_first=False)
    exclusive = _active_exclusive()
    page["items"] = [with_warnings(rule, exclusive) for rule in page["items"]]
    return page


def _check(values: dict) -> None:
    """A rule naming a tier, category or SKU that does not exist would silently never match."""
    ladder.check_codes(values.get("tiers") or [], "tiers")
    unknown = products.unknown_categories(values.get("categories") or [])
    if unknown:
        raise ValidationError("categories", f"Unknown categories: {', '.join(unknown)}.", code="unknown_category")
    unknown = products.unknown_skus(values.get("skus") or [])
    if unknown:
        raise ValidationError("skus", f"Unknown SKUs: {', '.join(unknown)}.", code="unknown_sku")
    if values.get("start_date") and values.get("end_date") and values["end_date"] < values["start_date"]:
        raise ValidationError("end_date", "Must not be before start_date.")


def _covers(wider: list | None, narrower: list | None) -> bool:
    """Every value `narrower` matches, `wider` matches too (None matches everything)."""
    return wider is None or (narrower is not None and set(narrower) <= set(wider))


def _active_exclusive() -> list[EarnRule]:
    return list(db.session.scalars(select(EarnRule).where(EarnRule.active.is_(True), EarnRule.stackable.is_(False))
                                   .order_by(EarnRule.id)))


def _shadowed_by(rule: EarnRule, exclusive: list[EarnRule]) -> list[EarnRule]:
    """Active exclusive rules ranked above `rule` that match every line `rule` matches: `rule` never applies
    while they are on (an exclusive rule is the only rule of its lines). Saved anyway; the answer warns."""
    if not rule.active:
        return []
    found = []
    for other in exclusive:
        if other.id == rule.id:
            continue
        ranked_above = (other.priority, -other.id) > (rule.priority, -rule.id)
        dates = ((other.start_date is None or (rule.start_date is not None and other.start_date <= rule.start_date))
                 and (other.end_date is None or (rule.end_date is not None and other.end_date >= rule.end_date)))
        if ranked_above and dates and all(_covers(getattr(other, name), getattr(rule, name))
                                          for name in ("tiers", "categories", "skus", "weekdays")):
            found.append(other)
    return found


def with_warnings(rule: EarnRule, exclusive: list[EarnRule] | None = None) -> dict:
    """The rule with its warnings (`shadowed`: the exclusive rules that keep it from ever applying);
    `exclusive` is the active exclusive rules when the caller has them already."""
    exclusive = _active_exclusive() if exclusive is None else exclusive
    warnings = [{"code": "shadowed", "rule_id": other.id, "rule_name": other.name, "priority": other.priority,
                 "message": f"Never applies while the exclusive rule {other.name!r} (id {other.id}, priority "
                            f"{other.priority}) is on: it matches every line this rule matches and ranks above."}
                for other in _shadowed_by(rule, exclusive)]
    return as_dict(rule) | {"warnings": warnings}


def _normalise(values: dict) -> dict:
    """Empty lists mean "any": store them as None so matching has one meaning for both."""
    out = dict(values)
    for name in ("tiers", "categories", "skus", "weekdays"):
        if name in out and not out[name]:
            out[name] = None
        elif name in out:
            out[name] = sorted(set(out[name]))
    return out


def create(values: dict) -> dict:
    values = _normalise(values)
    _check(values)
    rule = EarnRule(**values)
    db.session.add(rule)
    db.session.flush()
    audit.record("earn_rule.create", "earn_rule", rule.id, None, as_dict(rule))
    db.session.commit()
    return with_warnings(rule)


def update(rule_id: int, changes: dict) -> dict:
    rule = get(rule_id)
    before = as_dict(rule)
    changes = _normalise(changes)
    _check(before | changes)
    for name, value in changes.items():
        setattr(rule, name, value)
    audit.record("earn_rule.update", "earn_rule", rule.id, before, as_dict(rule))
    db.session.commit()
    return with_warnings(rule)


# --- computing ----------------------------------------------------------------------------------------

def _matches(rule: EarnRule, tier_code: str | None, line: dict, day: date) -> bool:
    if rule.tiers and tier_code not in rule.tiers:
        return False
    if rule.categories and line.get("category") not in rule.categories:
        return False
    if rule.skus and line["sku"] not in rule.skus:
        return False
    if rule.weekdays and day.isoweekday() not in rule.weekdays:
        return False
    if rule.start_date and day < rule.start_date:
        return False
    return not (rule.end_date and day > rule.end_date)


def rules_for_line(rules: list[EarnRule], tier_code: str | None, line: dict, day: date) -> list[EarnRule]:
    """The rules that apply to one line, per the precedence in the module docstring."""
    matching = sorted((r for r in rules if _matches(r, tier_code, line, day)), key=lambda r: (-r.priority, r.id))
    if not matching:
        return []
    if not matching[0].stackable:
        return [matching[0]]
    return [r for r in matching if r.stackable]


def _used_today(member_id: int, rule_ids: list[int], day: date) -> dict[int, int]:
    if not rule_ids:
        return {}
    rows = db.session.execute(
        select(EarnRuleUse.rule_id, func.sum(EarnRuleUse.points - EarnRuleUse.released))
        .where(EarnRuleUse.member_id == member_id, EarnRuleUse.rule_id.in_(rule_ids),
               EarnRuleUse.business_date == day)
        .group_by(EarnRuleUse.rule_id)
    )
    return {rule_id: int(total) for rule_id, total in rows}


def compute(member: Member, lines: list[dict], paid: int, day: date, policy: PointsPolicy | SimpleNamespace,
            rules: Sequence[EarnRule | SimpleNamespace] | None = None) -> dict:
    """Points a purchase of `lines` (with `total` after member prices) paying `paid` fen earns on `day`;
    `rules` are the active earn rules (the till passes its cached copy, app.config_cache), read when omitted.

    -> {"points", "applied_rules": [...], "rule_points": {rule_id: points}}; writes nothing."""
    multipliers = membership.membership_multipliers(member.id, day)
    subtotal = sum(line["total"] for line in lines)
    base = Fraction(max(paid, 0) * policy.points_per_yuan, 100) if subtotal > 0 else Fraction(0)
    # The base first, then each membership multiplier with what it adds on top of those before it, so the
    # points of `applied_rules` add up to the purchase's points.
    applied: list[dict] = [{"type": "base", "id": None, "name": "base", "percent": 100,
                            "points": math.floor(base), "capped": False}]
    multiplier = Fraction(1)
    for item in multipliers:
        before = math.floor(base * multiplier)
        multiplier *= Fraction(int(item["percent"]), 100)
        applied.append({"type": "membership", "id": None, "name": item["name"], "percent": int(item["percent"]),
                        "points": math.floor(base * multiplier) - before, "capped": False})
    if base <= 0:
        return {"points": 0, "applied_rules": applied, "rule_points": {}}
    membership_points = math.floor(base * multiplier)
    tier = ladder.tier_of(member)
    tier_code = tier.code if tier else None
    if rules is None:
        rules = list(db.session.scalars(select(EarnRule).where(EarnRule.active.is_(True))))
    bonus: dict[int, Fraction] = {}
    by_id = {r.id: r for r in rules}
    for line in lines:
        line_base = base * Fraction(line["total"], subtotal) * multiplier
        for rule in rules_for_line(rules, tier_code, line, day):
            bonus[rule.id] = bonus.get(rule.id, Fraction(0)) + line_base * Fraction(rule.percent - 100, 100)
    used = _used_today(member.id, [i for i in bonus if by_id[i].cap_per_day is not None], day)
    rule_points: dict[int, int] = {}
    for rule_id in sorted(bonus, key=lambda i: (-by_id[i].priority, i)):
        rule, points = by_id[rule_id], max(0, math.floor(bonus[rule_id]))
        uncapped = points
        if rule.cap_per_order is not None:
            points = min(points, rule.cap_per_order)
        if rule.cap_per_day is not None:
            points = min(points, max(0, rule.cap_per_day - used.get(rule_id, 0)))
        rule_points[rule_id] = points
        applied.append({"type": "earn_rule", "id": rule.id, "name": rule.name, "percent": rule.percent,
                        "points": points, "capped": points < uncapped})
    total = min(membership_points + sum(rule_points.values()), MAX_POINTS_PER_ORDER)
    return {"points": total, "applied_rules": applied, "rule_points": rule_points}


_INSERT_USES = pipeline.queued(insert(EarnRuleUse.__table__))  # nothing reads its answer


def record_uses(purchase_id: int, member_id: int, day: date, rule_points: dict[int, int]) -> None:
    """What each rule gave this purchase (the day caps count it), by one Core INSERT: nothing reads these
    rows back as objects in the purchase's transaction."""
    rows = [{"purchase_id": purchase_id, "member_id": member_id, "rule_id": rule_id, "business_date": day,
             "points": points, "released": 0} for rule_id, points in rule_points.items() if points > 0]
    if rows:
        db.session.execute(_INSERT_USES, rows)


def release_uses(purchase_id: int, share: Fraction) -> None:
    """Give the day caps back the refunded `share` (cumulative, as the refund's points) of what a purchase's
    rules consumed: the points reversed by a refund should not keep counting against the member's day."""
    for use in db.session.scalars(select(EarnRuleUse).where(EarnRuleUse.purchase_id == purchase_id)):
        use.released = math.floor(use.points * share)
