"""Refunds at the till by amount, by lines or in full: orders paid with points only or partly with points
give their points back (as lots keeping their expiry) in the refunded share, and all of them in full."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from coupons import issuing
from coupons.models import Coupon
from points import ledger as ledger
from points.models import PointsLot, PointsPolicy
from tests.conftest import bearer
from tests.coupons.helpers import template
from till.models import Purchase, PurchaseLine, Refund


@pytest.fixture
def points_may_pay_all(catalogue):
    db.session.get(PointsPolicy, 1).max_deduction_percent = 100
    db.session.commit()


def _refund(client, staff, order_no, **body):
    return client.post(f"/api/v1/pos/purchases/{order_no}/refunds", headers=staff, json=body)


def _open_points(member_id: int) -> int:
    return int(db.session.scalar(select(func.coalesce(func.sum(PointsLot.remaining), 0)).where(
        PointsLot.member_id == member_id, PointsLot.state == "open")))


def test_points_only_order_is_refunded_in_full_with_its_expiry(client, staff, shopper, give, buy, at,
                                                               points_may_pay_all):
    _, member_id = shopper
    at("2026-03-01T10:00:00+08:00")
    expiry = clock.now() + timedelta(days=40)
    give(member_id, 3000, expires_at=expiry)
    bought = buy(member_id, [("LATTE", 1)], order_no="PO1", points_to_use=3000).get_json()
    assert bought["paid"] == 0 and bought["points_spent"] == 3000 and bought["balance"] == 0

    by_money = _refund(client, staff, "PO1", refund_no="X0", amount=1)
    assert by_money.status_code == 422 and by_money.get_json()["error"]["code"] == "nothing_paid"

    at("2026-03-05T10:00:00+08:00")
    response = _refund(client, staff, "PO1", refund_no="X1", full=True)
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert answer == {"refund_no": "X1", "order_no": "PO1", "amount": 0, "lines": [{"sku": "LATTE", "qty": 1}],
                      "points_reversed": 0, "points_returned": 3000, "growth_removed": 0, "full": True,
                      "balance": 3000}
    restored = db.session.scalar(select(PointsLot).where(PointsLot.state == "open"))
    assert restored.remaining == 3000 and clock.as_utc(restored.expires_at) == expiry
    assert db.session.scalar(select(Purchase.refunded_full)) is True

    assert _refund(client, staff, "PO1", refund_no="X1", full=True).get_json() == answer  # idempotent
    again = _refund(client, staff, "PO1", refund_no="X2", full=True)
    assert again.status_code == 422 and again.get_json()["error"]["code"] == "refund_exceeds_paid"
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 1
    assert ledger.summary(member_id)["balance"] == 3000


def test_points_only_order_refunded_line_by_line_ends_exact(client, staff, shopper, give, buy,
                                                            points_may_pay_all):
    _, member_id = shopper
    give(member_id, 7001)
    buy(member_id, [("LATTE", 1), ("TEA", 1), ("CAKE", 2)], order_no="PO2", points_to_use=7000)  # 70 yuan
    returned = []
    for refund_no, lines in (("L1", [{"sku": "CAKE", "qty": 1}]), ("L2", [{"sku": "LATTE", "qty": 1}]),
                             ("L3", [{"sku": "CAKE", "qty": 1}, {"sku": "TEA", "qty": 1}])):
        response = _refund(client, staff, "PO2", refund_no=refund_no, lines=lines)
        assert response.status_code == 201, response.get_json()
        answer = response.get_json()
        assert answer["amount"] == 0 and answer["lines"] == lines
        returned.append((answer["points_returned"], answer["full"]))
    assert returned == [(1000, False), (3000, False), (3000, True)]
    assert ledger.summary(member_id)["balance"] == 7001 and _open_points(member_id) == 7001
    assert [line.refunded_qty for line in db.session.scalars(select(PurchaseLine).order_by(PurchaseLine.id))] == [
        1, 1, 2]


def test_order_paid_partly_with_points_refunded_by_lines(client, staff, shopper, give, buy):
    _, member_id = shopper
    give(member_id, 1000)
    buy(member_id, [("TEA", 1), ("CAKE", 1)], order_no="M1", points_to_use=999)  # 30 yuan, 9.99 in points
    purchase = db.session.scalar(select(Purchase))
    assert (purchase.paid, purchase.points_used, purchase.points_earned, purchase.growth_added) == (2001, 999, 20, 20)
    cake = _refund(client, staff, "M1", refund_no="C", lines=[{"sku": "CAKE", "qty": 1}]).get_json()
    assert (cake["amount"], cake["points_returned"], cake["points_reversed"], cake["growth_removed"], cake["full"]) \
        == (667, 333, 6, 6, False)  # a third of the order, rounded down until the last refund
    rest = _refund(client, staff, "M1", refund_no="T", full=True).get_json()
    assert (rest["amount"], rest["points_returned"], rest["points_reversed"], rest["growth_removed"], rest["full"]) \
        == (1334, 666, 14, 14, True)
    assert rest["lines"] == [{"sku": "TEA", "qty": 1}]
    db.session.expire_all()
    purchase = db.session.get(Purchase, purchase.id)
    assert purchase.refunded_amount == 2001 and purchase.refunded_full is True
    assert ledger.summary(member_id)["balance"] == 1000


def test_amount_refund_gives_back_points_in_proportion_and_full_ends_it(client, staff, shopper, give, buy):
    _, member_id = shopper
    give(member_id, 1000)
    buy(member_id, [("LATTE", 1)], order_no="A1", points_to_use=1000)  # 30 yuan: 10 in points, 20 paid
    half = _refund(client, staff, "A1", refund_no="H", amount=1000).get_json()
    assert (half["points_returned"], half["points_reversed"], half["full"], half["lines"]) == (500, 10, False, [])
    rest = _refund(client, staff, "A1", refund_no="R", full=True).get_json()
    assert (rest["amount"], rest["points_returned"], rest["points_reversed"], rest["full"]) == (1000, 500, 10, True)
    assert ledger.summary(member_id)["balance"] == 1000


def test_full_refund_by_lines_gives_the_coupon_back(client, staff, shopper, buy):
    _, member_id = shopper
    coupon = issuing.grant(member_id, template(claimable=False).id, key="k", reason="test")  # 20 off 100
    db.session.commit()
    bought = buy(member_id, [("MUG", 1), ("CAKE", 1)], order_no="CP1", coupon_ids=[coupon.id])
    assert bought.status_code == 201, bought.get_json()
    assert bought.get_json()["paid"] == 11000 - 2000
    first = _refund(client, staff, "CP1", refund_no="K1", lines=[{"sku": "CAKE", "qty": 1}]).get_json()
    assert first["amount"] == 9000 * 1000 // 11000 and db.session.get(Coupon, coupon.id).state == "used"
    last = _refund(client, staff, "CP1", refund_no="K2", lines=[{"sku": "MUG", "qty": 1}]).get_json()
    assert last.get("full") is True and first["amount"] + last["amount"] == 9000, last
    db.session.expire_all()
    assert db.session.get(Coupon, coupon.id).state == "available"


@pytest.mark.parametrize("body, status, code", [
    ({"lines": [{"sku": "MUG", "qty": 1}]}, 422, "sku_not_in_order"),
    ({"lines": [{"sku": "CAKE", "qty": 3}]}, 422, "refund_exceeds_bought"),
    ({"lines": [{"sku": "CAKE", "qty": 1}, {"sku": "CAKE", "qty": 1}]}, 422, "duplicate_sku"),
    ({"lines": [{"sku": "CAKE", "qty": 0}]}, 422, None),
    ({"lines": []}, 422, None),
    ({"full": False}, 422, None),
    ({"full": True, "amount": 100}, 422, None),
    ({"lines": [{"sku": "CAKE", "qty": 1}], "amount": 100}, 422, None),
    ({"amount": 4001}, 422, "refund_exceeds_paid"),
])
def test_bad_refunds_change_nothing(client, staff, shopper, buy, body, status, code):
    _, member_id = shopper
    buy(member_id, [("TEA", 1), ("CAKE", 2)], order_no="B1")  # 4000 fen
    response = _refund(client, staff, "B1", refund_no="Z", **body)
    assert response.status_code == status, response.get_json()
    if code:
        assert response.get_json()["error"]["code"] == code
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 0
    assert ledger.summary(member_id)["balance"] == 40


def test_money_and_goods_are_not_mixed_on_one_order(client, staff, shopper, buy):
    _, member_id = shopper
    buy(member_id, [("TEA", 1), ("CAKE", 2)], order_no="MX1")
    buy(member_id, [("TEA", 1), ("CAKE", 2)], order_no="MX2")
    assert _refund(client, staff, "MX1", refund_no="a", amount=100).status_code == 201
    mixed = _refund(client, staff, "MX1", refund_no="b", lines=[{"sku": "CAKE", "qty": 1}])
    assert mixed.status_code == 409 and mixed.get_json()["error"]["code"] == "refund_mode_conflict"
    assert _refund(client, staff, "MX2", refund_no="c", lines=[{"sku": "CAKE", "qty": 1}]).status_code == 201
    mixed = _refund(client, staff, "MX2", refund_no="d", amount=100)
    assert mixed.status_code == 409 and mixed.get_json()["error"]["code"] == "refund_mode_conflict"
    for order_no, refund_no in (("MX1", "e"), ("MX2", "f")):
        assert _refund(client, staff, order_no, refund_no=refund_no, full=True).get_json()["full"] is True
    assert ledger.summary(member_id)["balance"] == 0


def test_unknown_or_another_stores_order_is_404(client, shopper, buy, staff, operator_token):
    _, member_id = shopper
    buy(member_id, [("TEA", 1)], order_no="S1-9")
    assert _refund(client, staff, "NOPE", refund_no="u", full=True).status_code == 404
    other_store = bearer(operator_token("staff", "S2"))
    response = _refund(client, other_store, "S1-9", refund_no="v", lines=[{"sku": "TEA", "qty": 1}])
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "purchase_not_found"
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 0


def test_a_first_purchase_refunded_in_full_takes_back_the_rewards_it_triggered(client, staff, login, catalogue,
                                                                               buy, marketing):
    """Buying and returning a first order must not farm the first-purchase, invite and welcome rewards."""
    from tasks.models import ReferralReward
    from tests.tasks.helpers import define

    welcome = template(claimable=False)
    define(client, marketing, code="first", kind="first_purchase", title="首单有礼",
           reward={"points": 50, "growth": 5, "coupon_template_id": welcome.id})
    define(client, marketing, code="invite", kind="invite", title="邀请好友", reward={"points": 100},
           cap={"period": "month", "count": 5}, invitee_reward={"points": 30})
    inviter_token, inviter_id = login("inviter")
    code = client.get("/api/v1/me", headers=bearer(inviter_token)).get_json()["invite_code"]
    _, friend_id = login("friend", inviter_code=code)
    assert buy(friend_id, [("CAKE", 1)], order_no="F1").status_code == 201  # 10 yuan: 10 points, 10 growth
    assert ledger.summary(inviter_id)["balance"] == 100
    assert ledger.summary(friend_id)["balance"] == 10 + 50 + 30
    assert _refund(client, staff, "F1", refund_no="R1", amount=500).status_code == 201  # half: rewards stay
    assert ledger.summary(inviter_id)["balance"] == 100 and ledger.summary(friend_id)["balance"] == 5 + 50 + 30
    assert _refund(client, staff, "F1", refund_no="R2", full=True).status_code == 201
    assert ledger.summary(inviter_id)["balance"] == 0 and ledger.summary(friend_id)["balance"] == 0
    assert db.session.scalar(select(Coupon.state).where(Coupon.member_id == friend_id)) == "revoked"
    from members.models import Member

    assert db.session.get(Member, friend_id).growth == 0
    assert db.session.scalar(select(ReferralReward.state)) == "taken_back"
    assert buy(friend_id, [("CAKE", 1)], order_no="F2").status_code == 201  # not a first purchase any more
    assert ledger.summary(inviter_id)["balance"] == 0 and ledger.summary(friend_id)["balance"] == 10


def test_refunding_a_later_purchase_takes_back_no_first_purchase_reward(client, staff, shopper, buy, marketing):
    from tests.tasks.helpers import define

    define(client, marketing, code="first", kind="first_purchase", title="首单有礼", reward={"points": 50})
    _, member_id = shopper
    buy(member_id, [("CAKE", 1)], order_no="A1")
    buy(member_id, [("CAKE", 1)], order_no="A2")
    assert _refund(client, staff, "A2", refund_no="R1", full=True).status_code == 201
    assert ledger.summary(member_id)["balance"] == 10 + 50
