"""A refund gives the earn rules' day caps back what the refunded purchase consumed, so the member can
earn the bonus again later the same day."""
from __future__ import annotations

from app.extensions import db
from till.models import EarnRule

TUESDAY = "2026-03-03T10:00:00+08:00"


def _capped_rule() -> None:
    db.session.add(EarnRule(name="double, 30 a day", percent=200, priority=0, stackable=True, active=True,
                            cap_per_day=30))
    db.session.commit()


def _refund(client, staff, order_no, **body):
    response = client.post(f"/api/v1/pos/purchases/{order_no}/refunds", headers=staff, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_full_refund_releases_the_day_cap(client, staff, shopper, buy, at):
    _, member_id = shopper
    at(TUESDAY)
    _capped_rule()
    assert buy(member_id, [("LATTE", 1)], order_no="C1").get_json()["points_earned"] == 60  # 30 + 30 bonus
    assert buy(member_id, [("LATTE", 1)], order_no="C2").get_json()["points_earned"] == 30  # the cap is used up
    assert _refund(client, staff, "C1", refund_no="CR1", amount=3000)["points_reversed"] == 60
    again = buy(member_id, [("LATTE", 1)], order_no="C3").get_json()
    assert again["points_earned"] == 60
    assert [r["capped"] for r in again["applied_rules"] if r["type"] == "earn_rule"] == [False]


def test_partial_refund_releases_its_share_of_the_cap(client, staff, shopper, buy, at):
    _, member_id = shopper
    at(TUESDAY)
    _capped_rule()
    buy(member_id, [("LATTE", 1), ("TEA", 1)], order_no="P1")  # 50 base, bonus 50 capped at 30
    _refund(client, staff, "P1", refund_no="PR1", lines=[{"sku": "TEA", "qty": 1}])  # 2/5 of the order: 12 back
    assert buy(member_id, [("LATTE", 1)], order_no="P2").get_json()["points_earned"] == 30 + 12


def test_full_refund_of_an_order_paid_partly_with_points_releases_its_cap(client, staff, shopper, buy, give, at):
    _, member_id = shopper
    at(TUESDAY)
    _capped_rule()
    give(member_id, 1500)
    bought = buy(member_id, [("LATTE", 1)], order_no="Q1", points_to_use=1500).get_json()  # 15 paid: 15 + 15
    assert bought["points_earned"] == 30
    assert buy(member_id, [("LATTE", 1)], order_no="Q2").get_json()["points_earned"] == 30 + 15
    _refund(client, staff, "Q1", refund_no="QR1", full=True)
    assert buy(member_id, [("LATTE", 1)], order_no="Q3").get_json()["points_earned"] == 30 + 15
