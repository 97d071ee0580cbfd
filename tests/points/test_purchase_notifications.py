"""A purchase's earned points are announced once, with the balance they make."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from notifications.models import Notification


def test_a_purchase_announces_its_points_with_the_balance(shopper, buy, give):
    _, member_id = shopper
    give(member_id, 40)
    response = buy(member_id, [("LATTE", 1)])
    assert response.status_code == 201, response.get_json()
    earned = response.get_json()["points_earned"]
    assert earned > 0
    replay = buy(member_id, [("LATTE", 1)], order_no=response.get_json()["order_no"])
    assert replay.status_code in (200, 201)
    db.session.expire_all()
    notes = [(n.data["points"], n.data["balance"], n.data["reason"][:2])
             for n in db.session.scalars(select(Notification).where(Notification.kind == "points_credited")
                                         .order_by(Notification.id))]
    assert notes == [(40, 40, "gr"), (earned, 40 + earned, "消费")]
