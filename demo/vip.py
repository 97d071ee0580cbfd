"""Demo paid VIP: the 299 yuan yearly card (x1.5 points, a monthly VIP pack, VIP day on the 8th at x2)."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from demo.members import template_id
from vip import service
from vip.models import VipPlan

VIP_COUPON = "VIP-PACK"  # seeded by coupons/demo.py

PLAN = {
    "code": "annual", "name": "年卡VIP", "price": 29900, "duration_days": 365,
    "benefits": {"points_multiplier_percent": 150,
                 "vip_day": {"day_of_month": 8, "multiplier_percent": 200},
                 "display": [{"title": "VIP价", "icon": "vip", "text": "商品享VIP专属价"},
                             {"title": "VIP福利日", "icon": "gift", "text": "每月8日积分翻倍"}]},
}


def seed() -> list[str]:
    if db.session.scalar(select(VipPlan).where(VipPlan.code == PLAN["code"])) is None:
        pack_template = template_id(VIP_COUPON)
        benefits = dict(PLAN["benefits"])
        if pack_template is not None:
            benefits["monthly_pack"] = [{"coupon_template_id": pack_template, "count": 1}]
        service.save_plan(None, {**PLAN, "benefits": benefits}, audited=False)
    return ["VIP: 年卡VIP 299元/365天 (x1.5 points, VIP day on the 8th x2); the demo's WeChat Pay pays an order "
            "two seconds after POST /api/v1/vip/orders"]
