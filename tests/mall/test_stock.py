"""Stock adjustments (POST /admin/catalog/{id}/stock): relative to the stock at the commit, so redemptions
taken meanwhile are kept; never below zero or above the ceiling; audited."""
from __future__ import annotations

from collections import Counter

import pytest

from app.audit.models import AuditLog
from app.extensions import db
from mall.models import MAX_STOCK, CatalogItem
from tests.concurrency import fire
from tests.conftest import bearer
from tests.mall.helpers import PICKUP_STORE, add_item, give_points


def _stock(item_id: int) -> int:
    db.session.expire_all()
    return db.session.get(CatalogItem, item_id).stock


def test_restock_and_write_off_are_audited(client, marketing):
    item = add_item(client, marketing, stock=10)
    path = f"/api/v1/admin/catalog/{item['id']}/stock"
    response = client.post(path, headers=marketing, json={"delta": 40})
    assert response.status_code == 200 and response.get_json()["stock"] == 50
    assert client.post(path, headers=marketing, json={"delta": -5}).get_json()["stock"] == 45
    rows = AuditLog.query.filter_by(action="catalog.stock").order_by(AuditLog.id).all()
    assert [(r.before, r.after) for r in rows] == [({"stock": 10}, {"stock": 50, "delta": 40}),
                                                   ({"stock": 50}, {"stock": 45, "delta": -5})]


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"delta": -11}, 409, "out_of_stock"),
    ({"delta": MAX_STOCK}, 422, "stock_too_large"),
    ({"delta": 0}, 422, "validation_error"),
    ({"delta": "5"}, 422, "validation_error"),
    ({"delta": 2**40}, 422, "validation_error"),
    ({}, 422, "validation_error"),
])
def test_bad_adjustments_change_nothing(client, marketing, body, status, code):
    item = add_item(client, marketing, stock=10)
    response = client.post(f"/api/v1/admin/catalog/{item['id']}/stock", headers=marketing, json=body)
    assert response.status_code == status and response.get_json()["error"]["code"] == code
    assert _stock(item["id"]) == 10 and AuditLog.query.filter_by(action="catalog.stock").count() == 0


def test_missing_items_and_other_roles(client, marketing, staff):
    assert client.post("/api/v1/admin/catalog/999999/stock", headers=marketing,
                       json={"delta": 1}).status_code == 404
    item = add_item(client, marketing, stock=10)
    assert client.post(f"/api/v1/admin/catalog/{item['id']}/stock", headers=staff,
                       json={"delta": 1}).status_code == 403


def test_a_restock_during_redemptions_keeps_every_redemption(app, client, login, marketing):
    item = add_item(client, marketing, stock=10)
    tokens = []
    for n in range(8):
        token, member_id = login(f"r{n}")
        give_points(member_id, 100)
        tokens.append(token)
    redeem = {"item_id": item["id"], "quantity": 1, "store_code": PICKUP_STORE}
    calls = [("POST", "/api/v1/redemptions", bearer(t), redeem) for t in tokens]
    calls += [("POST", f"/api/v1/admin/catalog/{item['id']}/stock", marketing, {"delta": 5})] * 4
    results = fire(app, calls)
    assert Counter(status for status, _ in results[:8]) == {201: 8}
    assert Counter(status for status, _ in results[8:]) == {200: 4}
    assert _stock(item["id"]) == 10 - 8 + 4 * 5
