from collections import Counter

from app.extensions import db
from mall.models import CatalogItem, Redemption
from points.ledger import summary
from tests.concurrency import fire
from tests.conftest import bearer
from tests.mall.helpers import PICKUP_STORE, add_item, give_points


def _one(item: dict) -> dict:
    return {"item_id": item["id"], "quantity": 1, "store_code": PICKUP_STORE}


def test_hundred_members_race_for_the_last_ten(app, client, login, marketing):
    item = add_item(client, marketing, stock=10)
    tokens = []
    for n in range(100):
        token, member_id = login(f"m{n}")
        give_points(member_id, 100)
        tokens.append(token)
    results = fire(app, [("POST", "/api/v1/redemptions", bearer(t), _one(item))
                         for t in tokens])
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 10, 409: 90}, statuses
    assert {body["error"]["code"] for status, body in results if status == 409} == {"out_of_stock"}
    db.session.expire_all()
    assert db.session.get(CatalogItem, item["id"]).stock == 0
    assert Redemption.query.count() == 10


def test_one_member_twenty_requests_points_for_three(app, client, login, marketing):
    item = add_item(client, marketing, stock=100, points_price=100)
    token, member_id = login()
    give_points(member_id, 350)
    results = fire(app, [("POST", "/api/v1/redemptions", bearer(token), _one(item))] * 20)
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 3, 409: 17}, statuses
    assert summary(member_id)["balance"] == 50
    db.session.expire_all()
    assert db.session.get(CatalogItem, item["id"]).stock == 97


def test_per_member_limit_holds_under_concurrency(app, client, login, marketing):
    item = add_item(client, marketing, stock=100, per_member_limit=2)
    token, member_id = login()
    give_points(member_id, 10_000)
    results = fire(app, [("POST", "/api/v1/redemptions", bearer(token), _one(item))] * 12)
    assert Counter(status for status, _ in results) == {201: 2, 409: 10}
    assert Redemption.query.count() == 2


def test_same_idempotency_key_at_once_makes_one(app, client, login, marketing):
    item = add_item(client, marketing, stock=100)
    token, member_id = login()
    give_points(member_id, 10_000)
    headers = {**bearer(token), "Idempotency-Key": "tap-1"}
    results = fire(app, [("POST", "/api/v1/redemptions", headers, _one(item))] * 10)
    assert {status for status, _ in results} == {201}
    assert len({body["id"] for _, body in results}) == 1
    assert Redemption.query.count() == 1 and summary(member_id)["balance"] == 9_900


def test_concurrent_cancels_return_points_once(app, client, login, marketing):
    item = add_item(client, marketing, stock=5)
    token, member_id = login()
    give_points(member_id, 100)
    redemption = client.post("/api/v1/redemptions", json=_one(item),
                             headers=bearer(token)).get_json()
    path = f"/api/v1/me/redemptions/{redemption['id']}/cancel"
    results = fire(app, [("POST", path, bearer(token), None)] * 8)
    assert Counter(status for status, _ in results) == {200: 1, 409: 7}
    assert summary(member_id)["balance"] == 100
    db.session.expire_all()
    assert db.session.get(CatalogItem, item["id"]).stock == 5
