"""Demo tier ladder 普通 / 高级 / 尊享 with full benefit tables, created through the tiers service.

Birthday gifts and monthly packs name coupon templates by code; a template the coupons demo did not create
(or a coupons domain without `template_by_code`) drops that coupon part, the rest of the table stays.
"""
from __future__ import annotations

import copy

from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from coupons import templates
from members.models import Tier
from tiers import ladder

# Coupon template codes the coupons demo seeds (coupons/demo.py).
BIRTHDAY_COUPON = "BDAY-GIFT"
SILVER_MONTHLY = "MONTHLY-SILVER"
GOLD_MONTHLY = "MONTHLY-GOLD"

TIERS = [
    {"code": "normal", "name": "普通会员", "rank": 0, "growth_threshold": 0, "retention_threshold": 0,
     "benefits": {"points_multiplier_percent": 100, "free_shipping": False,
                  "birthday_gift": {"points": 100, "coupon_template_codes": [], "when": "birthday"},
                  "display": [{"title": "积分抵现", "icon": "coin", "text": "100积分抵1元"}]}},
    {"code": "silver", "name": "高级会员", "rank": 1, "growth_threshold": 1000, "retention_threshold": 500,
     "benefits": {"points_multiplier_percent": 120, "free_shipping": True,
                  "birthday_gift": {"points": 300, "coupon_template_codes": [BIRTHDAY_COUPON], "when": "birthday"},
                  "monthly_pack": [{"coupon_template_code": SILVER_MONTHLY, "count": 1}],
                  "display": [{"title": "会员价", "icon": "tag", "text": "专享会员价"}]}},
    {"code": "gold", "name": "尊享会员", "rank": 2, "growth_threshold": 5000, "retention_threshold": 2500,
     "benefits": {"points_multiplier_percent": 150, "free_shipping": True,
                  "birthday_gift": {"points": 1000, "coupon_template_codes": [BIRTHDAY_COUPON],
                                    "when": "month_start"},
                  "monthly_pack": [{"coupon_template_code": GOLD_MONTHLY, "count": 1}],
                  "display": [{"title": "会员价", "icon": "tag", "text": "专享会员价"},
                              {"title": "专属客服", "icon": "service", "text": "1对1专属顾问"}]}},
]


def template_id(code: str) -> int | None:
    found = templates.template_by_code(code)
    return found.id if found is not None else None


def _benefits(spec: dict, with_coupons: bool) -> dict:
    """The demo table with template codes turned into ids (coupon parts dropped when unknown)."""
    benefits = copy.deepcopy(spec)
    gift = benefits.get("birthday_gift")
    if gift is not None:
        codes = gift.pop("coupon_template_codes", [])
        ids = [template_id(code) for code in codes] if with_coupons else []
        gift["coupon_template_ids"] = [i for i in ids if i is not None]
    pack = []
    for item in benefits.pop("monthly_pack", []):
        found = template_id(item["coupon_template_code"]) if with_coupons else None
        if found is not None:
            pack.append({"coupon_template_id": found, "count": item["count"]})
    benefits["monthly_pack"] = pack
    return benefits


def seed() -> list[str]:
    for spec in TIERS:
        if db.session.scalar(select(Tier).where(Tier.code == spec["code"])) is not None:
            continue
        values = {**spec, "benefits": _benefits(spec["benefits"], with_coupons=True)}
        try:
            ladder.save_tier(None, values, audited=False)
        except ValidationError as error:
            if error.code != "unknown_coupon_template":
                raise
            ladder.save_tier(None, {**spec, "benefits": _benefits(spec["benefits"], with_coupons=False)},
                              audited=False)
    return ["tiers: " + " / ".join(t["name"] for t in TIERS)]
