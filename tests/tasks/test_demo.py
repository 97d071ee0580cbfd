from points.mall import demo as mall_demo
from points.mall.models import CatalogItem
from tasks import demo as tasks_demo
from tasks.models import TaskDefinition


def test_demo_seeds_are_idempotent():
    tasks_demo.seed()
    mall_demo.seed()
    tasks_demo.seed()
    mall_demo.seed()
    assert TaskDefinition.query.count() == len(tasks_demo.TASKS)
    assert CatalogItem.query.count() == len(mall_demo.ITEMS)
    checkin = TaskDefinition.query.filter_by(kind="checkin").one()
    assert checkin.streak_cycle_days == 7 and [b["day"] for b in checkin.streak_bonuses] == [3, 7]
    assert TaskDefinition.query.filter_by(code="invite").one().cap_count == 10


def test_mall_demo_offers_the_coupon_once_the_template_exists(monkeypatch):
    from types import SimpleNamespace

    from coupons import service as coupons_service
    from tests.coupon_stub import stub_coupons

    stub_coupons(monkeypatch)
    monkeypatch.setattr(coupons_service, "template_by_code",
                        lambda code: SimpleNamespace(id=5) if code == "SAVE20" else None, raising=False)
    mall_demo.seed()
    coupon = CatalogItem.query.filter_by(kind="coupon").one()
    assert coupon.coupon_template_id == 5 and coupon.stock > 0
