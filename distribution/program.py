"""The distribution program as marketing configures it: settings (on/off, routes, windows, withdrawal limits),
the level ladder and the commission rules. The till reads them on every purchase, so they are a slice of the
per-process configuration cache (app/config_cache.py): with distribution off, a purchase costs no query here.
"""
from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import config_cache
from app.audit import service as audit
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from distribution.models import CommissionRule, DistributionSettings, PromoterLevel

SETTING_FIELDS = ("enabled", "checkin_days", "spend", "vip_route", "pack_price", "binding_days", "touch",
                  "return_days", "second_level_bp", "withdraw_min", "withdraw_daily_count", "withdraw_approval_over")
DEFAULTS = {"enabled": False, "checkin_days": None, "spend": None, "vip_route": False, "pack_price": None,
            "binding_days": 30, "touch": "first", "return_days": 7, "second_level_bp": None, "withdraw_min": 100,
            "withdraw_daily_count": 3, "withdraw_approval_over": 50_000}
LEVEL_FIELDS = ("code", "name", "rank", "min_fans", "min_gmv")
RULE_FIELDS = ("name", "sku", "category", "level_id", "rate_bp", "cap_per_order", "active")


def _load() -> SimpleNamespace:
    row = db.session.get(DistributionSettings, 1)
    settings = SimpleNamespace(**({name: getattr(row, name) for name in SETTING_FIELDS} if row else DEFAULTS))
    levels = [config_cache.copy_row(level) for level in
              db.session.scalars(select(PromoterLevel).order_by(PromoterLevel.rank))]
    rules = [config_cache.copy_row(rule) for rule in
             db.session.scalars(select(CommissionRule).where(CommissionRule.active.is_(True)).order_by(CommissionRule.id))]
    return SimpleNamespace(settings=settings, levels=levels, rules=rules)


current = config_cache.register("distribution", _load, (DistributionSettings, PromoterLevel, CommissionRule))


def settings() -> SimpleNamespace:
    return current().settings


def enabled() -> bool:
    return current().settings.enabled


def settings_view() -> dict:
    return vars(settings()).copy()


def update_settings(changes: dict) -> dict:
    """Marketing's edit of the settings (audited; the schema checked each field). Switching distribution off
    stops new attribution at once; commission already earned still settles and can still be withdrawn."""
    row = db.session.get(DistributionSettings, 1)
    before = {name: getattr(row, name) for name in SETTING_FIELDS} if row else dict(DEFAULTS)
    after = {**before, **changes}
    if row is None:
        row = DistributionSettings(id=1, **after)
        db.session.add(row)
    else:
        for name, value in after.items():
            setattr(row, name, value)
    db.session.flush()
    audit.record("distribution.settings", "distribution_settings", 1, before, after)
    db.session.commit()
    return settings_view()


# --- levels ---------------------------------------------------------------------------------------------

def list_levels() -> list[PromoterLevel]:
    return list(db.session.scalars(select(PromoterLevel).order_by(PromoterLevel.rank)))


def get_level(level_id: int) -> PromoterLevel:
    level = db.session.get(PromoterLevel, level_id)
    if level is None:
        raise NotFound("No such promoter level.", code="level_not_found")
    return level


def save_level(level_id: int | None, changes: dict) -> PromoterLevel:
    """Create or edit a rung (audited). Ranks and codes are unique; the lowest rank is where every new promoter
    starts, so it asks for nothing (min_fans and min_gmv 0)."""
    level = PromoterLevel() if level_id is None else get_level(level_id)
    before = None if level_id is None else {name: getattr(level, name) for name in LEVEL_FIELDS}
    values = {**(before or {"min_fans": 0, "min_gmv": 0}), **changes}
    for name in LEVEL_FIELDS:
        setattr(level, name, values[name])
    lowest = db.session.scalar(select(PromoterLevel.rank).where(PromoterLevel.id != (level.id or 0))
                               .order_by(PromoterLevel.rank).limit(1))
    if (lowest is None or level.rank < lowest) and (level.min_fans or level.min_gmv):
        raise ValidationError("rank", "The lowest level is every promoter's start: it cannot ask for fans or GMV.",
                              code="lowest_level_has_thresholds")
    if level_id is None:
        db.session.add(level)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Another level has this code or rank.", code="level_taken") from None
    audit.record("distribution.level", "distribution_level", level.id, before,
                 {name: getattr(level, name) for name in LEVEL_FIELDS})
    db.session.commit()
    return level


# --- commission rules -----------------------------------------------------------------------------------

def list_rules() -> list[CommissionRule]:
    return list(db.session.scalars(select(CommissionRule).order_by(CommissionRule.id)))


def get_rule(rule_id: int) -> CommissionRule:
    rule = db.session.get(CommissionRule, rule_id)
    if rule is None:
        raise NotFound("No such commission rule.", code="rule_not_found")
    return rule


def save_rule(rule_id: int | None, changes: dict) -> CommissionRule:
    """Create or edit a rule (audited). A rule names a SKU or a category, not both (the SKU already decides
    the line); its level, when named, must exist."""
    rule = CommissionRule(active=True) if rule_id is None else get_rule(rule_id)
    before = None if rule_id is None else {name: getattr(rule, name) for name in RULE_FIELDS}
    values = {**(before or {"sku": None, "category": None, "level_id": None, "cap_per_order": None,
                            "active": True}), **changes}
    if values["sku"] and values["category"]:
        raise ValidationError("category", "A rule names a SKU or a category, not both.", code="rule_sku_and_category")
    if values["level_id"] is not None and db.session.get(PromoterLevel, values["level_id"]) is None:
        raise ValidationError("level_id", f"Level {values['level_id']} does not exist.", code="level_not_found")
    for name in RULE_FIELDS:
        setattr(rule, name, values[name])
    if rule_id is None:
        db.session.add(rule)
    db.session.flush()
    audit.record("distribution.rule", "distribution_rule", rule.id, before,
                 {name: getattr(rule, name) for name in RULE_FIELDS})
    db.session.commit()
    return rule
