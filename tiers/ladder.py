"""The tier ladder as data: the tier policy, the ladder and its cached copy, tier edits with their
consistency checks, review dates and a member's tier history."""

import calendar
import logging
from datetime import date
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import clock, config_cache, references
from app.audit import service as audit
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.pagination import keyset_page
from app.sql import insert_ignore
from members.models import Member, Tier
from members.schemas import load_benefits
from tiers.models import DOWNGRADE_MODES, REFUND_MODES, TierChange, TierPolicy
from tiers.schemas import TierBenefits

log = logging.getLogger(__name__)
TIER_FIELDS = ("code", "name", "rank", "growth_threshold", "retention_threshold", "benefits", "review_rule",
               "review_month_day")



# --- policy -------------------------------------------------------------------------------------------

POLICY_FIELDS = ("downgrade_mode", "refund_downgrade", "growth_per_yuan")


def get_policy() -> TierPolicy:
    """The one policy row, created on first use with INSERT .. ON CONFLICT DO NOTHING: two first purchases
    at once must not fail on the primary key."""
    policy = db.session.get(TierPolicy, 1)
    if policy is None:
        db.session.execute(insert_ignore(TierPolicy.__table__).values(
            id=1, downgrade_mode="one_step", refund_downgrade="at_review", growth_per_yuan=1, updated_at=clock.now(),
        ))
        policy = db.session.get(TierPolicy, 1)
    return policy


def _policy_dict(policy: TierPolicy) -> dict:
    return {name: getattr(policy, name) for name in POLICY_FIELDS}


policy_copy = config_cache.register("tier_policy", lambda: config_cache.copy_row(get_policy()), (TierPolicy,))
"""The tier policy as committed now: every purchase reads its growth rate."""


def purchase_growth(paid: int) -> int:
    """Growth a purchase paying `paid` fen of money adds: whole yuan times the policy's rate."""
    return paid * policy_copy().growth_per_yuan // 100


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


_ladder_copy = config_cache.register("tiers", lambda: tuple(config_cache.copy_row(t) for t in ladder()), (Tier,))


def ladder_copy() -> tuple[SimpleNamespace, ...]:
    """The ladder as committed now, lowest rank first, as read-only copies: the per-process copy behind
    the till's version token (app.config_cache), read once per transaction. Every purchase asks for the
    member's tier and the tier its growth reaches; loading Tier rows for that cost two or three queries."""
    return _ladder_copy()


def tier_of(member: Member) -> SimpleNamespace | None:
    """The member's tier (by `tier_id`, which `change_tier` keeps in step with `member.tier`) as a copy."""
    return tier_by_id(member.tier_id)


def tier_by_id(tier_id: int | None) -> SimpleNamespace | None:
    if tier_id is None:
        return None
    return next((tier for tier in ladder_copy() if tier.id == tier_id), None)


def tier_allowed(allowed: list | None, member: Member) -> bool:
    """A task, mall item or reward open to some tiers only: empty means every tier."""
    if not allowed:
        return True
    tier = tier_of(member)
    return tier is not None and tier.code in allowed


def unknown_codes(codes) -> list[str]:
    """The codes no tier has, in the order given."""
    codes = list(dict.fromkeys(codes))
    known = set(db.session.scalars(select(Tier.code).where(Tier.code.in_(codes)))) if codes else set()
    return [code for code in codes if code not in known]


def check_codes(codes, field: str) -> None:
    """422 `unknown_tier` naming the field: a rule, price or audience naming a typo would never match anyone."""
    unknown = unknown_codes(codes)
    if unknown:
        raise ValidationError(field, f"Unknown tier codes: {', '.join(unknown)}.", code="unknown_tier")


def get_tier(tier_id: int) -> Tier:
    tier = db.session.get(Tier, tier_id)
    if tier is None:
        raise NotFound("No such tier.", code="tier_not_found")
    return tier


def next_tier(member: Member) -> Tier | None:
    current_rank = member.tier.rank if member.tier else -1
    return db.session.scalar(select(Tier).where(Tier.rank > current_rank).order_by(Tier.rank.asc()).limit(1))


def next_tier_progress(member: Member) -> dict | None:
    """The tier above the member's and the growth still needed to reach it (None at the top)."""
    upcoming = next_tier(member)
    if upcoming is None:
        return None
    return {"code": upcoming.code, "name": upcoming.name,
            "growth_needed": max(0, upcoming.growth_threshold - member.growth)}


def _tier_dict(tier: Tier) -> dict:
    return {name: getattr(tier, name) for name in TIER_FIELDS}


def _check_benefits(benefits: dict) -> dict:
    clean = load_benefits(TierBenefits(), benefits)
    gift = clean.get("birthday_gift") or {}
    references.check("coupon_template", gift.get("coupon_template_ids", []),
                     "benefits.birthday_gift.coupon_template_ids")
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
    """Ranks unique; a higher rank needs strictly more growth to enter and no less to stay, and earns no fewer
    points per yuan (a member upgraded into fewer points would read it as a downgrade)."""
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
    multipliers = sorted([(t.rank, _multiplier(t.benefits)) for t in others]
                         + [(values["rank"], _multiplier(values.get("benefits")))])
    for lower, higher in zip(multipliers, multipliers[1:], strict=False):
        if higher[1] < lower[1]:
            raise ValidationError("benefits.points_multiplier_percent",
                                  "A higher rank cannot earn fewer points than the rank below it.",
                                  code="benefits_out_of_order")


def _multiplier(benefits: dict | None) -> int:
    return int((benefits or {}).get("points_multiplier_percent", 100))


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
        raise ValidationError("retention_threshold", "Staying cannot need more growth than entering.",
                              code="retention_above_entry")
    _check_review(values)
    values["benefits"] = _check_benefits(values.get("benefits") or {})
    _check_ladder(tier, values)
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



def history(member_id: int, limit: int, cursor: str | None) -> dict:
    """The member's tier changes, newest first, with the tiers as {code, name}."""

    page = keyset_page(select(TierChange).where(TierChange.member_id == member_id), TierChange.id, limit, cursor)
    tiers = {t.id: t for t in ladder()}
    page["items"] = [{"id": c.id, "from_tier": tiers.get(c.from_tier_id), "to_tier": tiers.get(c.to_tier_id),
                      "reason": c.reason, "growth": c.growth, "created_at": c.created_at} for c in page["items"]]
    return page
