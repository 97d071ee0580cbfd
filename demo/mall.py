"""Demo points mall (积分商城): a tote bag to pick up in store, a mug with a cash part, a coupon."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from coupons import templates
from mall import service
from mall.models import CatalogItem
from mall.schemas import CatalogItemIn

ITEMS = [
    {"code": "tote-bag", "name": "品牌帆布袋", "kind": "pickup", "points_price": 800, "stock": 50,
     "description": "到店领取", "image_url": "https://cdn.example.com/mall/tote.png",
     "per_member_limit": 1, "limit_period": "ever", "display_order": 1},
    {"code": "mug", "name": "定制马克杯", "kind": "pickup", "points_price": 500, "cash_price": 1990, "stock": 30,
     "description": "500积分+19.9元，到店付款领取", "image_url": "https://cdn.example.com/mall/mug.png",
     "per_member_limit": 2, "limit_period": "month", "display_order": 2},
]


COUPON_TEMPLATE_CODE = "SAVE20"


def _coupon_template_id() -> int | None:
    """The coupons' demo 满100减20 template, by its stable code."""
    template = templates.template_by_code(COUPON_TEMPLATE_CODE)
    return template.id if template is not None else None


def seed() -> list[str]:
    specs = list(ITEMS)
    template_id = _coupon_template_id()
    if template_id is not None:
        specs.append({"code": "coupon-save20", "name": "满100减20优惠券", "kind": "coupon", "points_price": 1000,
                      "stock": 200, "coupon_template_id": template_id, "per_member_limit": 1, "limit_period": "month",
                      "description": "兑换后立即到账", "display_order": 3})
    for spec in specs:
        if db.session.scalar(select(CatalogItem.id).where(CatalogItem.code == spec["code"])) is None:
            service.create_item(CatalogItemIn().load(spec))
    lines = ["points mall: " + " / ".join(s["name"] for s in specs)]
    if template_id is None:
        lines.append("points mall: coupon item skipped (no coupon template seeded)")
    return lines
