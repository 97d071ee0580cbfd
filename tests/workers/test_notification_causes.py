"""The domains that announce "points credited" and "redemption ready": each cause queues one message."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from notifications.models import Notification
from tests.conftest import bearer
from tests.mall.helpers import add_item, give_points
from tests.tasks.helpers import define


def _notes() -> list[tuple[int, str, dict]]:
    db.session.expire_all()
    rows = db.session.scalars(select(Notification).order_by(Notification.id))
    return [(n.member_id, n.kind, n.data) for n in rows]


def test_a_checkin_reward_announces_the_points(client, login, marketing):
    define(client, marketing, code="checkin", kind="checkin", title="每日签到", reward={"points": 5})
    token, member_id = login()
    assert client.post("/api/v1/tasks/checkin", headers=bearer(token)).status_code == 200
    [(who, kind, data)] = _notes()
    assert (who, kind, data["points"]) == (member_id, "points_credited", 5)


def test_an_adjustment_announces_the_points_but_a_deduction_does_not(client, login, marketing):
    _, member_id = login()
    url = f"/api/v1/admin/members/{member_id}/points-adjustments"
    assert client.post(url, headers=marketing, json={"delta": 300, "reason": "补偿"}).status_code == 201
    assert client.post(url, headers=marketing, json={"delta": -100, "reason": "误发"}).status_code == 201
    assert [(k, d["points"], d["reason"]) for _, k, d in _notes()] == [("points_credited", 300, "补偿")]


def test_a_pickup_redemption_announces_it_is_ready(client, login, marketing, stores):
    item = add_item(client, marketing)
    token, member_id = login()
    give_points(member_id, 100)
    before = len(_notes())  # the seeding grant itself announces points
    response = client.post("/api/v1/redemptions", json={"item_id": item["id"], "quantity": 1, "store_code": "S1"},
                           headers=bearer(token))
    assert response.status_code == 201, response.get_json()
    [(who, kind, data)] = _notes()[before:]
    assert (who, kind, data["item"], data["store"]) == (member_id, "redemption_ready", "帆布袋", "Store S1")


def test_a_refused_redemption_announces_nothing(client, login, marketing, stores):
    item = add_item(client, marketing, points_price=500)
    token, member_id = login()
    give_points(member_id, 100)
    before = len(_notes())
    response = client.post("/api/v1/redemptions", json={"item_id": item["id"], "quantity": 1, "store_code": "S1"},
                           headers=bearer(token))
    assert response.status_code == 409
    assert len(_notes()) == before
