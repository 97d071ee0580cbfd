"""Attribution and commission: bound shoppers' sales pay their promoter by the rules, pending for the return
window; refunds take it back in their share; settlement moves it to the balance; debts are paid first."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.extensions import db
from distribution import commission, program
from distribution.models import Binding, BindingChange, Commission, Promoter
from tests.conftest import bearer


def _promoter(promoter_id: int) -> Promoter:
    db.session.expire_all()
    return db.session.get(Promoter, promoter_id)


def test_a_bound_shoppers_purchase_pays_the_rule_and_the_till_names_the_promoter(buy, promoter, fan):
    _, fan_id = fan
    answer = buy(fan_id, [("LATTE", 2)]).get_json()  # 2 x 30 yuan at the entry tier
    assert answer["paid"] == 6000
    assert answer["promoter"] == {"id": promoter[2].id, "code": promoter[2].code, "nickname": None,
                                  "commission": 600}
    row = db.session.scalar(select(Commission))
    assert (row.amount, row.base, row.state, row.depth) == (600, 6000, "pending", 1)
    held = _promoter(promoter[2].id)
    assert (held.pending, held.balance, held.fans, held.gmv) == (600, 0, 1, 6000)


def test_the_commission_is_on_money_paid_not_on_points(buy, promoter, fan, give):
    _, fan_id = fan
    give(fan_id, 3000)
    answer = buy(fan_id, [("LATTE", 2)], points_to_use=2000).get_json()
    assert answer["paid"] == 4000 and answer["promoter"]["commission"] == 400


def test_a_self_purchase_pays_nothing_and_a_promoter_cannot_bind_themselves(client, buy, promoter):
    headers, member_id, held = promoter
    response = client.post("/api/v1/me/binding", headers=headers, json={"promoter_code": held.code})
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "self_binding"
    answer = buy(member_id, [("LATTE", 1)]).get_json()
    assert "promoter" not in answer
    assert db.session.scalar(select(Commission)) is None


def test_an_unbound_shoppers_purchase_is_not_attributed(buy, promoter, login):
    _, member_id = login("nobody")
    assert "promoter" not in buy(member_id, [("LATTE", 1)]).get_json()


def test_distribution_off_attributes_nothing_and_binds_no_one(client, buy, promoter, fan, login):
    program.update_settings({"enabled": False})
    assert "promoter" not in buy(fan[1], [("LATTE", 1)]).get_json()
    assert db.session.scalar(select(Commission)) is None
    token, _ = login("late")
    response = client.post("/api/v1/me/binding", headers=bearer(token),
                           json={"promoter_code": promoter[2].code})
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "distribution_off"


def test_the_binding_window_ends(buy, promoter, fan):
    binding = db.session.get(Binding, fan[1])
    assert binding.expires_at - binding.bound_at == timedelta(days=30)
    binding.expires_at = clock.now() - timedelta(seconds=1)  # the 30 days have passed
    db.session.commit()
    assert "promoter" not in buy(fan[1], [("LATTE", 1)]).get_json()


def test_first_touch_keeps_the_first_promoter_and_last_touch_moves(client, buy, promoter, fan, login):
    from distribution import promoters

    token, other_id = login("otto")
    other = promoters.grant(other_id)
    body = {"promoter_code": other.code, "channel": "poster"}
    kept = client.post("/api/v1/me/binding", headers=fan[0], json=body).get_json()
    assert kept["outcome"] == "kept" and kept["promoter_code"] is None
    assert buy(fan[1], [("LATTE", 1)]).get_json()["promoter"]["code"] == promoter[2].code
    program.update_settings({"touch": "last"})
    moved = client.post("/api/v1/me/binding", headers=fan[0], json=body).get_json()
    assert moved["outcome"] == "moved" and moved["promoter_code"] == other.code
    assert buy(fan[1], [("LATTE", 1)]).get_json()["promoter"]["code"] == other.code
    trail = [(c.outcome, c.from_promoter_id, c.to_promoter_id, c.channel) for c in
             db.session.scalars(select(BindingChange).order_by(BindingChange.id))]
    assert trail == [("bound", None, promoter[2].id, "share"), ("kept", promoter[2].id, other.id, "poster"),
                     ("moved", promoter[2].id, other.id, "poster")]


def test_a_revoked_promoter_earns_nothing_new_and_binds_no_one(client, buy, promoter, fan, login, marketing):
    response = client.post(f"/api/v1/admin/promoters/{promoter[2].id}/revoke", headers=marketing,
                           json={"reason": "fake orders"})
    assert response.status_code == 200 and response.get_json()["state"] == "revoked"
    assert "promoter" not in buy(fan[1], [("LATTE", 1)]).get_json()
    token, _ = login("new")
    response = client.post("/api/v1/me/binding", headers=bearer(token),
                           json={"promoter_code": promoter[2].code})
    assert response.status_code == 404


def test_rules_by_category_and_level_with_a_cap(buy, promoter, fan, dist):
    program.save_rule(None, {"name": "蛋糕封顶", "category": "bakery", "rate_bp": 3000, "cap_per_order": 500})
    held = _promoter(promoter[2].id)
    held.level_id = dist["L2"].id
    db.session.commit()
    # LATTE 3000 (coffee at level 2: 20%), CAKE 3 x 1000 (bakery 30% = 900, capped at 500), TEA 2000 (10%)
    answer = buy(fan[1], [("LATTE", 1), ("CAKE", 3), ("TEA", 1)]).get_json()
    assert answer["paid"] == 8000 and answer["promoter"]["commission"] == 600 + 500 + 200


def test_a_sku_rule_beats_a_category_rule_and_no_rule_pays_nothing(promoter, dist):
    rules = [type("R", (), dict(id=1, level_id=None, sku=None, category="coffee", rate_bp=1000, cap_per_order=None)),
             type("R", (), dict(id=2, level_id=None, sku="LATTE", category=None, rate_bp=500, cap_per_order=None))]
    line = type("L", (), dict(sku="LATTE", category="coffee", total=1000))
    assert commission.compute(rules, None, 1000, 1000, [line]) == 50
    other = type("L", (), dict(sku="MUG", category="merch", total=1000))
    assert commission.compute(rules, None, 1000, 1000, [other]) == 0


def test_partial_refunds_in_the_window_take_back_their_share(client, buy, promoter, fan, staff):
    buy(fan[1], [("LATTE", 2)], order_no="R1")  # 6000 paid, 600 commission
    response = client.post("/api/v1/pos/purchases/R1/refunds", headers=staff, json={"refund_no": "RF1", "amount": 1500})
    assert response.status_code == 201, response.get_json()
    row = db.session.scalar(select(Commission))
    db.session.refresh(row)
    assert row.reversed == 150 and _promoter(promoter[2].id).pending == 450
    client.post("/api/v1/pos/purchases/R1/refunds", headers=staff, json={"refund_no": "RF2", "amount": 1000})
    client.post("/api/v1/pos/purchases/R1/refunds", headers=staff, json={"refund_no": "RF3", "full": True})
    held = _promoter(promoter[2].id)
    assert held.pending == 0 and held.gmv == 0
    db.session.refresh(row)
    assert row.reversed == 600


def test_settlement_after_the_window_and_a_refund_after_it_takes_from_the_balance(client, buy, promoter, fan,
                                                                                   staff):
    start = clock.now()
    buy(fan[1], [("LATTE", 2)], order_no="S1")  # 600 pending
    assert commission.settle_due()["changed"] == 0  # the window has not ended
    assert commission.settle_due(start + timedelta(days=6, hours=23))["changed"] == 0
    assert commission.settle_due(start + timedelta(days=7, minutes=1))["changed"] == 1
    held = _promoter(promoter[2].id)
    assert (held.pending, held.balance) == (0, 600)
    response = client.post("/api/v1/pos/purchases/S1/refunds", headers=staff, json={"refund_no": "SF1", "full": True})
    assert response.status_code == 201
    held = _promoter(promoter[2].id)
    assert held.balance == 0  # 600 settled, 600 clawed back
    buy(fan[1], [("LATTE", 1)], order_no="S2")  # 300 pending
    client.post("/api/v1/pos/purchases/S2/refunds", headers=staff, json={"refund_no": "SF2", "full": True})
    buy(fan[1], [("MUG", 1)], order_no="S3")  # 1000 pending
    card = client.get("/api/v1/me/promoter", headers=promoter[0]).get_json()["promoter"]
    assert (card["pending"], card["available"], card["debt"]) == (1000, 0, 0)


def test_a_debt_is_paid_by_the_next_settlement(client, buy, promoter, fan, staff, wxpay):
    start = clock.now()
    buy(fan[1], [("LATTE", 2)], order_no="D1")  # 600
    commission.settle_due(start + timedelta(days=8))
    response = client.post("/api/v1/me/promoter/withdrawals", headers=promoter[0],
                           json={"withdrawal_no": "WD1", "amount": 600})
    assert response.status_code == 201 and response.get_json()["state"] == "paid", response.get_json()
    client.post("/api/v1/pos/purchases/D1/refunds", headers=staff, json={"refund_no": "DF1", "full": True})
    card = client.get("/api/v1/me/promoter", headers=promoter[0]).get_json()["promoter"]
    assert (card["available"], card["debt"], card["withdrawn"]) == (0, 600, 600)
    buy(fan[1], [("MUG", 1)], order_no="D2")  # 1000 pending
    commission.settle_due(start + timedelta(days=16))
    card = client.get("/api/v1/me/promoter", headers=promoter[0]).get_json()["promoter"]
    assert (card["pending"], card["available"], card["debt"]) == (0, 400, 0)


def test_the_second_level_is_off_by_default_and_pays_the_inviter_when_on(client, buy, promoter, login):
    from distribution import promoters

    # a fan of the promoter becomes a promoter: the promoter is their inviter
    token, child_id = login("kid")
    client.post("/api/v1/me/binding", headers=bearer(token), json={"promoter_code": promoter[2].code})
    child = promoters.grant(child_id)
    assert child.parent_id == promoter[2].id
    token, buyer_id = login("buyer")
    client.post("/api/v1/me/binding", headers=bearer(token), json={"promoter_code": child.code})
    buy(buyer_id, [("LATTE", 1)], order_no="L1")
    assert [c.depth for c in db.session.scalars(select(Commission))] == [1]
    program.update_settings({"second_level_bp": 300})
    buy(buyer_id, [("LATTE", 1)], order_no="L2")
    rows = {(c.promoter_id, c.depth): c.amount for c in db.session.scalars(select(Commission).where(Commission.id > 1))}
    assert rows == {(child.id, 1): 300, (promoter[2].id, 2): 90}


def test_the_promoters_views_mask_other_shoppers(client, buy, promoter, fan):
    buy(fan[1], [("LATTE", 1)], order_no="VIEW01")
    fans = client.get("/api/v1/me/promoter/fans", headers=promoter[0]).get_json()["items"]
    assert fans == [{"nickname": None, "bound_at": fans[0]["bound_at"], "expires_at": fans[0]["expires_at"],
                     "channel": "share", "bought": True}]
    rows = client.get("/api/v1/me/promoter/commission", headers=promoter[0]).get_json()["items"]
    assert rows[0]["order"] == "VI****01" and rows[0]["amount"] == 300
    ledger = client.get("/api/v1/me/promoter/commission/ledger", headers=promoter[0]).get_json()["items"]
    assert [(e["kind"], e["pending_delta"], e["pending_after"]) for e in ledger] == [("accrue", 300, 300)]


def test_share_gives_the_scene_with_the_promoter_code(client, promoter, fan):
    answer = client.get("/api/v1/me/promoter/share?sku=LATTE", headers=promoter[0]).get_json()
    assert answer["scene"] == f"p={promoter[2].code}&s=LATTE" and len(answer["scene"]) <= 32
    response = client.get("/api/v1/me/promoter/share", headers=fan[0])
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "not_promoter"


def test_the_second_level_never_pays_a_buyer_on_their_own_purchase(client, buy, promoter, login):
    from distribution import promoters

    program.update_settings({"second_level_bp": 300})
    token, child_id = login("kid")
    client.post("/api/v1/me/binding", headers=bearer(token), json={"promoter_code": promoter[2].code})
    child = promoters.grant(child_id)
    # the child's inviter binds to the child and buys: the child earns, the inviter earns nothing on it
    client.post("/api/v1/me/binding", headers=promoter[0], json={"promoter_code": child.code})
    buy(promoter[1], [("LATTE", 1)], order_no="OWN1")
    assert [(c.promoter_id, c.depth) for c in db.session.scalars(select(Commission))] == [(child.id, 1)]


def test_an_attributed_sale_no_rule_matches_settles_without_an_entry(buy, promoter, fan):
    from distribution.models import CommissionRule, PromoterEntry

    for rule in db.session.scalars(select(CommissionRule)):
        rule.active = False
    db.session.commit()
    start = clock.now()
    answer = buy(fan[1], [("LATTE", 1)]).get_json()
    assert answer["promoter"]["commission"] == 0  # attributed (GMV, fans) but nothing to pay
    assert commission.settle_due(start + timedelta(days=8))["changed"] == 1
    row = db.session.scalar(select(Commission))
    db.session.refresh(row)
    assert row.state == "settled" and row.settle_entry_id is None
    assert db.session.scalar(select(PromoterEntry)) is None
    assert _promoter(promoter[2].id).gmv == 3000


def test_an_ended_binding_goes_to_the_next_promoter_even_on_first_touch(client, buy, promoter, fan, login):
    from distribution import promoters

    binding = db.session.get(Binding, fan[1])
    binding.expires_at = clock.now() - timedelta(seconds=1)
    db.session.commit()
    token, other_id = login("otto")
    other = promoters.grant(other_id)
    answer = client.post("/api/v1/me/binding", headers=fan[0], json={"promoter_code": other.code}).get_json()
    assert answer["outcome"] == "bound" and answer["promoter_code"] == other.code
    change = db.session.scalar(select(BindingChange).order_by(BindingChange.id.desc()))
    assert (change.from_promoter_id, change.to_promoter_id) == (promoter[2].id, other.id)
