"""Demo tier ladder 普通 / 高级 / 尊享 with benefit tables."""
from sqlalchemy import select

from app.extensions import db
from members.models import Tier

TIERS = [
    {"code": "normal", "name": "普通会员", "rank": 0, "growth_threshold": 0, "retention_threshold": 0,
     "benefits": {"points_multiplier_percent": 100, "free_shipping": False,
                  "display": [{"title": "积分抵现", "icon": "coin", "text": "100积分抵1元"}]}},
    {"code": "silver", "name": "高级会员", "rank": 1, "growth_threshold": 1000, "retention_threshold": 500,
     "benefits": {"points_multiplier_percent": 120, "free_shipping": True,
                  "display": [{"title": "会员价", "icon": "tag", "text": "专享会员价"}]}},
    {"code": "gold", "name": "尊享会员", "rank": 2, "growth_threshold": 5000, "retention_threshold": 2500,
     "benefits": {"points_multiplier_percent": 150, "free_shipping": True,
                  "display": [{"title": "专属客服", "icon": "service", "text": "1对1专属顾问"}]}},
]


def seed() -> list[str]:
    for spec in TIERS:
        if db.session.scalar(select(Tier).where(Tier.code == spec["code"])) is None:
            db.session.add(Tier(**spec))
    db.session.commit()
    return ["tiers: " + " / ".join(t["name"] for t in TIERS)]
