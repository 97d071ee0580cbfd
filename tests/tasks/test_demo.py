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
