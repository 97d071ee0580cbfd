"""Demo coupon templates with stable codes, so other domains' seeds (tier packs, birthday gifts, VIP, tasks,
the mall) can look them up with `coupons.templates.template_by_code(code)`.

Gift SKUs (GIFT-DRINK, GIFT-CAKE) are expected in the demo product catalogue; templates are seeded before
products, so the catalogue check is skipped here.
"""
from coupons import templates

REL = {"kind": "relative", "days": 30}
TEMPLATES = [
    {"code": "NEW20", "title": "新人礼 满100减20", "kind": "amount_off", "amount_off": 2000, "threshold": 10000,
     "validity": REL, "audience": {"new_members_only": True}, "claimable": True,
     "description": "新会员注册即送, 全场满100元可用"},
    {"code": "SAVE20", "title": "满100减20", "kind": "amount_off", "amount_off": 2000, "threshold": 10000,
     "validity": {"kind": "relative", "days": 14}, "stock": 1000, "claimable": True,
     "description": "领券中心, 每人限领1张"},
    {"code": "P88", "title": "全场88折 最高减30", "kind": "percent_off", "percent": 88, "max_discount": 3000,
     "validity": {"kind": "relative", "days": 7}, "stock": 500, "claimable": True,
     "description": "88折, 最高优惠30元, 不与其他券同用"},
    {"code": "FREE-DRINK", "title": "免费饮品兑换券", "kind": "gift", "gift_sku": "GIFT-DRINK",
     "validity": REL, "stock": 300, "claimable": True, "stackable": True,
     "description": "到店出示兑换一杯饮品, 可与满减券同用"},
    {"code": "BDAY-GIFT", "title": "生日礼 蛋糕兑换券", "kind": "gift", "gift_sku": "GIFT-CAKE", "validity": REL,
     "stackable": True, "description": "生日月赠送"},
    {"code": "MONTHLY-SILVER", "title": "高级会员月礼 满50减10", "kind": "amount_off", "amount_off": 1000,
     "threshold": 5000, "validity": REL, "stackable": True, "description": "高级会员每月发放"},
    {"code": "MONTHLY-GOLD", "title": "尊享会员月礼 满80减20", "kind": "amount_off", "amount_off": 2000,
     "threshold": 8000, "validity": REL, "stackable": True, "description": "尊享会员每月发放"},
    {"code": "VIP-PACK", "title": "付费会员礼包 满60减15", "kind": "amount_off", "amount_off": 1500,
     "threshold": 6000, "validity": REL, "stackable": True, "description": "开通付费会员赠送"},
]


def seed() -> list[str]:
    created = []
    for spec in TEMPLATES:
        if templates.template_by_code(spec["code"]) is None:
            templates.create_template(dict(spec), check_catalog=False)
            created.append(spec["code"])
    return ["coupon templates: " + ", ".join(t["code"] for t in TEMPLATES)
            + (f" (new: {', '.join(created)})" if created else "")]
