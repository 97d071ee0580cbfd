"""The till's contract: best combination, checking given coupons, using them, restoring them on refund."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from app import events
from app.errors import ApiError
from app.extensions import db
from coupons import checkout, issuing, wallet
from coupons.models import Coupon
from tests.concurrency import end_test_transaction
from tests.coupons.helpers import line, member, purchase, template


def _give(member_id: int, **terms) -> Coupon:
    coupon = issuing.grant(member_id, template(claimable=False, **terms).id, key="k", reason="test")
    db.session.commit()
    return coupon


def _error(member_id, lines, ids) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        checkout.quote_coupons(member_id, lines, ids)
    db.session.rollback()
    return caught.value.status, caught.value.code


def test_best_combination_beats_greedy_largest_first():
    """Greedy takes the biggest single coupon (30 off, not stackable) and stops; two stackable ones give 35."""
    m = member().id
    lone = _give(m, amount_off=3000, threshold=10000)
    a = _give(m, amount_off=2000, threshold=10000, stackable=True)
    b = _give(m, amount_off=1500, threshold=15000, stackable=True)
    answer = checkout.quote_coupons(m, [line("LATTE", 20000)], None)
    assert answer["discount"] == 3500 and sorted(answer["coupon_ids"]) == sorted([a.id, b.id])
    assert lone.id not in answer["coupon_ids"]
    assert sum(c["discount"] for c in answer["coupons"]) == 3500
    small = checkout.quote_coupons(m, [line("LATTE", 12000)], None)  # b's threshold not met: the lone 30 wins
    assert small["coupon_ids"] == [lone.id] and small["discount"] == 3000


def test_best_combination_with_percent_cap_and_scope():
    """88折 capped at 10 yuan (not stackable) looks best for a big cart, but a category coupon plus a gift
    coupon together are worth more."""
    m = member().id
    percent = _give(m, kind="percent_off", amount_off=None, percent=88, max_discount=1000, threshold=0)
    coffee = _give(m, amount_off=800, threshold=8000, stackable=True,
                   scope={"kind": "categories", "values": ["coffee"]})
    cake = _give(m, kind="gift", amount_off=None, gift_sku="CAKE", threshold=0, stackable=True)
    cart = [line("LATTE", 4500, qty=2, category="coffee"), line("CAKE", 600, category="bakery")]
    answer = checkout.quote_coupons(m, cart, None)
    assert set(answer["coupon_ids"]) == {coffee.id, cake.id} and answer["discount"] == 1400
    no_cake = checkout.quote_coupons(m, cart[:1], None)  # 9000*12% = 1080 capped to 1000 > 800
    assert no_cake["coupon_ids"] == [percent.id] and no_cake["discount"] == 1000


def test_threshold_is_on_in_scope_amount_after_member_prices():
    m = member().id
    coupon = _give(m, amount_off=2000, threshold=10000, scope={"kind": "categories", "values": ["coffee"]})
    cart = [line("LATTE", 4800, qty=2, category="coffee"), line("CAKE", 5000, category="bakery")]
    assert _error(m, cart, [coupon.id]) == (422, "coupon_threshold_not_met")
    assert checkout.quote_coupons(m, cart, None)["discount"] == 0
    excluded = _give(m, amount_off=2000, threshold=10000, scope={"kind": "skus", "values": ["CAKE"], "exclude": True})
    assert _error(m, cart, [excluded.id]) == (422, "coupon_threshold_not_met")
    assert checkout.quote_coupons(m, cart + [line("MOCHA", 1000, category="coffee")], [excluded.id])["discount"] == 2000


def test_discount_never_exceeds_the_cart_and_useless_coupons_stay():
    m = member().id
    big = _give(m, amount_off=800, threshold=0, stackable=True)
    mid = _give(m, amount_off=600, threshold=0, stackable=True)
    _give(m, amount_off=500, threshold=0, stackable=True)
    answer = checkout.quote_coupons(m, [line("TEA", 1000)], None)
    assert answer["discount"] == 1000 and set(answer["coupon_ids"]) == {big.id, mid.id}


def test_gift_coupon_discounts_one_unit_of_its_sku():
    m = member().id
    gift = _give(m, kind="gift", amount_off=None, gift_sku="CAKE", threshold=0)
    assert checkout.quote_coupons(m, [line("CAKE", 1800, qty=3)], [gift.id])["discount"] == 1800
    assert _error(m, [line("TEA", 1800)], [gift.id]) == (422, "coupon_not_applicable")
    second = _give(m, kind="gift", amount_off=None, gift_sku="CAKE", threshold=0, stackable=True)
    third = _give(m, kind="gift", amount_off=None, gift_sku="CAKE", threshold=0, stackable=True)
    assert _error(m, [line("CAKE", 1800)], [second.id, third.id]) == (422, "coupon_not_applicable")
    assert checkout.quote_coupons(m, [line("CAKE", 1800, qty=2)], [second.id, third.id])["discount"] == 3600


def test_given_coupons_are_checked(at, stores):
    at("2026-03-01T10:00:00+08:00")
    m, other = member().id, member().id
    cart = [line("LATTE", 20000)]
    lone = _give(m, amount_off=2000, threshold=10000)
    stack1 = _give(m, amount_off=1000, threshold=10000, stackable=True)
    theirs = _give(other, amount_off=1000, threshold=10000)
    future = _give(m, amount_off=1000, threshold=10000,
                   validity={"kind": "fixed", "start": "2026-04-01", "end": "2026-04-30"})
    twin_t = template(claimable=False, amount_off=500, threshold=0, stackable=True)
    twin1 = issuing.grant(m, twin_t.id, key="a", reason="t")
    twin2 = issuing.grant(m, twin_t.id, key="b", reason="t")
    db.session.commit()
    assert _error(m, cart, [theirs.id]) == (404, "coupon_not_found")
    assert _error(m, cart, [424242]) == (404, "coupon_not_found")
    assert _error(m, cart, [future.id]) == (422, "coupon_not_yet_valid")
    assert _error(m, cart, [lone.id, stack1.id]) == (409, "coupon_not_stackable")
    assert _error(m, cart, [twin1.id, twin2.id]) == (409, "coupon_not_stackable")
    assert _error(m, cart, [stack1.id, stack1.id]) == (422, "coupon_duplicated")
    ok = checkout.quote_coupons(m, cart, [stack1.id, twin1.id])
    assert ok["discount"] == 1500 and ok["coupon_ids"] == [stack1.id, twin1.id]
    assert checkout.quote_coupons(m, cart, [])["discount"] == 0
    checkout.use_for_purchase(m, [lone.id], cart, purchase(m, stores["S1"].id))
    db.session.commit()
    assert _error(m, cart, [lone.id]) == (409, "coupon_already_used")
    checkout.revoke(stack1.id, "issued by mistake")
    assert _error(m, cart, [stack1.id]) == (409, "coupon_revoked")
    at("2026-04-15T10:00:00+08:00")
    assert _error(m, cart, [twin1.id]) == (409, "coupon_expired")


def test_use_for_purchase_and_restore_on_full_refund(at, stores):
    at("2026-03-01T10:00:00+08:00")
    m = member().id
    coupon = _give(m, amount_off=2000, threshold=10000, validity={"kind": "relative", "days": 10})
    cart = [line("LATTE", 12000)]
    assert [c["id"] for c in wallet.usable_for_member(m)] == [coupon.id]
    purchase_id = purchase(m, stores["S1"].id)
    assert checkout.use_for_purchase(m, [coupon.id], cart, purchase_id) == 2000
    db.session.commit()
    db.session.expire_all()
    used = db.session.get(Coupon, coupon.id)
    assert used.state == "used" and used.purchase_id == purchase_id and used.used_at is not None
    assert wallet.usable_for_member(m) == []
    with pytest.raises(ApiError) as again:
        checkout.use_for_purchase(m, [coupon.id], cart, purchase(m, stores["S1"].id))
    assert again.value.code == "coupon_already_used"
    db.session.rollback()
    events.purchase_refunded.send(None, member_id=m, purchase_id=purchase_id, refund_id=1, full=False)
    db.session.commit()
    assert db.session.get(Coupon, coupon.id).state == "used"  # a partial refund keeps it used
    assert checkout.restore_for_refund(purchase_id) == 1
    db.session.commit()
    assert checkout.restore_for_refund(purchase_id) == 0
    db.session.expire_all()
    back = db.session.get(Coupon, coupon.id)
    assert back.state == "available" and back.purchase_id is None
    assert checkout.use_for_purchase(m, [], cart, purchase_id) == 0


def test_full_refund_event_restores_but_not_expired_coupons(at, stores):
    at("2026-03-01T10:00:00+08:00")
    m = member().id
    short = _give(m, amount_off=1000, threshold=0, stackable=True, validity={"kind": "relative", "days": 1})
    long = _give(m, amount_off=500, threshold=0, stackable=True, validity={"kind": "relative", "days": 30})
    purchase_id = purchase(m, stores["S1"].id)
    checkout.use_for_purchase(m, [short.id, long.id], [line("TEA", 5000)], purchase_id)
    db.session.commit()
    at("2026-03-05T10:00:00+08:00")
    events.purchase_refunded.send(None, member_id=m, purchase_id=purchase_id, refund_id=1, full=True)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Coupon, short.id).state == "used"
    assert db.session.get(Coupon, long.id).state == "available"


def test_lines_are_checked():
    m = member().id
    assert _error(m, [{"sku": "X", "qty": 1, "unit_price": 100}], None)[0] == 422
    assert _error(m, [line("X", -100)], None)[0] == 422


def test_one_coupon_used_by_two_purchases_at_once(app, stores):
    m = member().id
    coupon_id = _give(m, amount_off=2000, threshold=10000).id
    purchase_ids = [purchase(m, stores["S1"].id) for _ in range(8)]

    def buy(purchase_id):
        with app.app_context():
            try:
                checkout.use_for_purchase(m, [coupon_id], [line("LATTE", 12000)], purchase_id)
                db.session.commit()
                return "ok"
            except ApiError as exc:
                db.session.rollback()
                return exc.code

    end_test_transaction()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(buy, purchase_ids))
    assert results.count("ok") == 1 and results.count("coupon_already_used") == 7
    db.session.expire_all()
    assert db.session.get(Coupon, coupon_id).purchase_id in purchase_ids


def test_of_equal_coupons_the_soonest_expiring_is_used(at):
    at("2026-03-01T10:00:00+08:00")
    m = member().id
    for stackable in (True, False):
        t = template(claimable=False, amount_off=1000, threshold=0, stackable=stackable)
        late = issuing.grant(m, t.id, key="late", reason="t")
        at("2026-02-20T10:00:00+08:00")
        early = issuing.grant(m, t.id, key="early", reason="t")  # issued earlier: ends earlier
        at("2026-03-01T10:00:00+08:00")
        db.session.commit()
        assert early.valid_until < late.valid_until
        assert checkout.quote_coupons(m, [line("TEA", 5000)], None)["coupon_ids"] == [early.id]
        db.session.execute(Coupon.__table__.update().where(Coupon.template_id == t.id).values(state="revoked"))
        db.session.commit()
