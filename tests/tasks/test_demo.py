from coupons import templates
from demo import coupons as coupons_demo
from demo import mall as mall_demo
from demo import tasks as tasks_demo
from mall.models import CatalogItem
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


def test_mall_demo_offers_the_coupon_once_the_template_exists():
    mall_demo.seed()
    assert CatalogItem.query.filter_by(kind="coupon").count() == 0  # no SAVE20 template yet: skipped
    coupons_demo.seed()  # the coupons' demo templates, SAVE20 among them
    mall_demo.seed()
    coupon = CatalogItem.query.filter_by(kind="coupon").one()
    assert coupon.coupon_template_id == templates.template_by_code("SAVE20").id and coupon.stock > 0
