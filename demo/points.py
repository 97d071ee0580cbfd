"""Demo points program: the policy, a small café menu with member prices, and three earn rules."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.extensions import db
from catalog.models import Product
from points.models import PointsPolicy
from till.models import EarnRule

PRODUCTS = [
    # sku, name, category, list, {tier: price}
    ("LATTE", "拿铁", "coffee", 3200, {"silver": 3000, "gold": 2800, "vip": 2600}),
    ("AMERICANO", "美式", "coffee", 2600, {"silver": 2500, "gold": 2300, "vip": 2100}),
    ("FLATWHITE", "澳白", "coffee", 3400, {"gold": 3000, "vip": 2800}),
    ("OOLONG", "冻顶乌龙", "tea", 2200, {"silver": 2100, "gold": 2000, "vip": 1800}),
    ("MATCHA", "抹茶拿铁", "tea", 3000, {"gold": 2700, "vip": 2500}),
    ("CROISSANT", "可颂", "bakery", 1500, {"silver": 1400, "gold": 1300, "vip": 1200}),
    ("CHEESECAKE", "芝士蛋糕", "bakery", 2800, {"gold": 2500, "vip": 2400}),
    ("TUMBLER", "品牌随行杯", "merch", 12800, {"gold": 11500, "vip": 9900}),
    # what the demo's gift coupons (FREE-DRINK, BDAY-GIFT) hand over
    ("GIFT-DRINK", "任意中杯饮品 (兑换)", "gift", 2800, {}),
    ("GIFT-CAKE", "生日小蛋糕 (兑换)", "gift", 6800, {}),
]


def _rules() -> list[dict]:
    today = clock.business_today()
    return [
        {"name": "会员日双倍积分 (每周三)", "percent": 200, "weekdays": [3], "priority": 100, "stackable": True,
         "cap_per_day": 2000},
        {"name": "烘焙 1.5 倍积分", "percent": 150, "categories": ["bakery"], "priority": 50, "stackable": True,
         "cap_per_order": 500},
        {"name": "开业季三倍积分", "percent": 300, "start_date": today, "end_date": today + timedelta(days=30),
         "priority": 200, "stackable": False, "cap_per_order": 3000},
    ]


def seed() -> list[str]:
    if db.session.get(PointsPolicy, 1) is None:  # never overwrite what marketing has set since
        db.session.add(PointsPolicy(id=1, points_per_yuan=1, expiry_kind="rolling_months", expiry_months=12,
                                    expiry_years=1, pending_days=0, points_per_yuan_value=100,
                                    max_deduction_percent=50))
    for sku, name, category, list_price, member_prices in PRODUCTS:
        if db.session.scalar(select(Product).where(Product.sku == sku)) is None:
            db.session.add(Product(sku=sku, name=name, category=category, list_price=list_price,
                                   member_prices=member_prices, active=True))
    for spec in _rules():
        if db.session.scalar(select(EarnRule).where(EarnRule.name == spec["name"])) is None:
            db.session.add(EarnRule(**spec))
    db.session.commit()
    return [
        "points: 1 point per yuan, 100 points = 1 yuan at the till (up to 50% of an order), 12-month expiry",
        "products: " + ", ".join(f"{sku} {name}" for sku, name, *_ in PRODUCTS),
        "earn rules: " + " / ".join(spec["name"] for spec in _rules()),
    ]
