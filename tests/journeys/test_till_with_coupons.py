"""A shopper's day on the demo program, end to end through the API: registration gift, scan, quote with the
best coupons, purchase, wallet, full refund giving the coupon back; and a coupon raced at two tills."""
from concurrent.futures import ThreadPoolExecutor

import pytest

import demo
from tests.concurrency import end_test_transaction
from tests.conftest import bearer


@pytest.fixture
def program(at):
    at("2026-03-05T10:00:00+08:00")  # a Thursday: no 会员日 double points
    demo.seed(with_history=False)


def _staff(client, username="staff1"):
    body = client.post("/api/v1/auth/operator-login", json={"username": username, "password": "demo1234"}).get_json()
    return bearer(body["token"])


def test_new_member_gift_is_chosen_used_and_given_back_on_full_refund(client, program):
    login = client.post("/api/v1/auth/wechat-login", json={"code": "test-alice", "scene": "qr-S1"}).get_json()
    assert login["is_new"] is True
    shopper = bearer(login["token"])
    wallet = client.get("/api/v1/me/coupons?state=available", headers=shopper).get_json()
    gifts = [c for c in wallet["items"] if c["title"].startswith("新人礼")]
    assert len(gifts) == 1, wallet

    staff = _staff(client)
    code = client.get("/api/v1/me/code", headers=shopper).get_json()["code"]
    scan = client.post("/api/v1/pos/scan", headers=staff, json={"member_code": code}).get_json()
    assert gifts[0]["id"] in [c["id"] for c in scan["usable_coupons"]]

    cart = [{"sku": "TUMBLER", "qty": 1}]  # 128 yuan: over the 100 yuan threshold
    quote = client.post("/api/v1/pos/quote", headers=staff, json={"member_code": code, "items": cart}).get_json()
    assert quote["coupon_ids"] == [gifts[0]["id"]] and quote["coupon_discount"] == 2000, quote
    assert quote["payable"] == 12800 - 2000

    bought = client.post("/api/v1/pos/purchases", headers=staff, json={
        "order_no": "S1-0001", "member_code": code, "items": cart, "coupon_ids": quote["coupon_ids"],
        "paid": quote["payable"]})
    assert bought.status_code == 201, bought.get_json()
    assert bought.get_json()["points_earned"] == quote["points_to_earn"] > 0
    used = client.get("/api/v1/me/coupons?state=used", headers=shopper).get_json()["items"]
    assert [c["id"] for c in used] == [gifts[0]["id"]]
    replay = client.post("/api/v1/pos/scan", headers=staff, json={"member_code": code})
    assert replay.status_code == 409  # the code was consumed by the purchase

    refund = client.post("/api/v1/pos/purchases/S1-0001/refunds", headers=staff,
                         json={"refund_no": "R1", "amount": quote["payable"]})
    assert refund.status_code == 201, refund.get_json()
    back = client.get("/api/v1/me/coupons?state=available", headers=shopper).get_json()["items"]
    assert gifts[0]["id"] in [c["id"] for c in back]
    ledger = client.get("/api/v1/me/points/ledger", headers=shopper).get_json()["items"]
    kinds = [(e["kind"], e["delta"]) for e in ledger]
    earned = bought.get_json()["points_earned"]
    assert ("earn", earned) in kinds and ("reverse", -earned) in kinds
    first_purchase_gift = sum(e["delta"] for e in ledger if e["kind"] == "grant")
    assert first_purchase_gift == 50  # the demo's 首单有礼 task paid for the first purchase...
    assert ("reverse", -50) in kinds  # ...and took it back with the full refund: returning an order farms nothing
    assert client.get("/api/v1/me", headers=shopper).get_json()["points"]["balance"] == 0


def test_another_members_coupon_is_refused_at_the_till(client, program):
    alice = client.post("/api/v1/auth/wechat-login", json={"code": "test-alice"}).get_json()
    bob = client.post("/api/v1/auth/wechat-login", json={"code": "test-bob"}).get_json()
    alice_coupon = client.get("/api/v1/me/coupons", headers=bearer(alice["token"])).get_json()["items"][0]
    staff = _staff(client)
    quote = client.post("/api/v1/pos/quote", headers=staff, json={
        "member_id": bob["member"]["id"], "items": [{"sku": "TUMBLER", "qty": 1}], "coupon_ids": [alice_coupon["id"]]})
    assert quote.status_code == 404 and quote.get_json()["error"]["code"] == "coupon_not_found"


def test_one_coupon_raced_at_two_tills_is_used_once(app, client, program):
    login = client.post("/api/v1/auth/wechat-login", json={"code": "test-racer"}).get_json()
    member_id = login["member"]["id"]
    coupon = client.get("/api/v1/me/coupons", headers=bearer(login["token"])).get_json()["items"][0]
    manager = _staff(client, "manager1")  # eight tills, one member: by id, with a manager's override
    cart = [{"sku": "TUMBLER", "qty": 1}]

    def buy(i):
        with app.app_context():
            return app.test_client().post("/api/v1/pos/purchases", headers=manager, json={
                "order_no": f"RACE-{i}", "member_id": member_id, "items": cart, "coupon_ids": [coupon["id"]],
                "paid": 12800 - 2000, "override_reason": "race test"}).status_code

    end_test_transaction()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(buy, range(8)))
    assert statuses.count(201) == 1 and statuses.count(409) == 7, statuses
