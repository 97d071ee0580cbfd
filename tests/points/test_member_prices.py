"""One member price at a time (PUT/DELETE /admin/products/{sku}/member-prices/{key}): the product's other
prices stay, the change is audited, and two tiers' prices set at once both land."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.extensions import db
from catalog.models import Product
from tests.concurrency import fire

PRODUCT = {"sku": "BAGEL", "name": "贝果", "category": "bakery", "list_price": 1200,
           "member_prices": {"silver": 1100}}
PATH = "/api/v1/admin/products/BAGEL/member-prices"


@pytest.fixture
def bagel(client, marketing, tiers):
    assert client.post("/api/v1/admin/products", headers=marketing, json=PRODUCT).status_code == 201


def _prices() -> dict:
    db.session.expire_all()
    return db.session.scalar(select(Product).where(Product.sku == "BAGEL")).member_prices


def test_one_price_is_set_and_removed_the_others_stay(client, marketing, bagel):
    response = client.put(f"{PATH}/gold", headers=marketing, json={"price": 1000})
    assert response.status_code == 200 and response.get_json()["member_prices"] == {"silver": 1100, "gold": 1000}
    assert client.put(f"{PATH}/vip", headers=marketing, json={"price": 900}).status_code == 200
    removed = client.delete(f"{PATH}/gold", headers=marketing)
    assert removed.status_code == 200 and removed.get_json()["member_prices"] == {"silver": 1100, "vip": 900}
    assert client.delete(f"{PATH}/gold", headers=marketing).status_code == 200  # already gone: nothing changes
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "product.update")
                               .order_by(AuditLog.id)).all()
    assert audit[0].before["member_prices"] == {"silver": 1100}
    assert audit[0].after["member_prices"] == {"silver": 1100, "gold": 1000}


@pytest.mark.parametrize(("key", "body", "status", "code"), [
    ("gold", {"price": 1201}, 422, "member_price_above_list"),
    ("platinum", {"price": 100}, 422, "unknown_tier"),
    ("gold", {"price": -1}, 422, "validation_error"),
    ("gold", {"price": "1000"}, 422, "validation_error"),
    ("gold", {"price": 10**12}, 422, "validation_error"),
    ("gold", {}, 422, "validation_error"),
])
def test_bad_prices_are_refused_and_change_nothing(client, marketing, bagel, key, body, status, code):
    response = client.put(f"{PATH}/{key}", headers=marketing, json=body)
    assert response.status_code == status and response.get_json()["error"]["code"] == code
    assert _prices() == {"silver": 1100}


def test_a_missing_product_is_404_and_staff_may_not(client, marketing, staff, bagel):
    assert client.put("/api/v1/admin/products/NOPE/member-prices/gold", headers=marketing,
                      json={"price": 1}).status_code == 404
    assert client.put(f"{PATH}/gold", headers=staff, json={"price": 1}).status_code == 403
    assert _prices() == {"silver": 1100}


def test_two_tiers_prices_set_at_once_both_land(app, client, marketing, bagel):
    calls = [("PUT", f"{PATH}/{key}", marketing, {"price": price})
             for key, price in (("gold", 1000), ("vip", 900), ("normal", 1150), ("silver", 1050))]
    results = fire(app, calls)
    assert [status for status, _ in results] == [200, 200, 200, 200]
    assert _prices() == {"gold": 1000, "vip": 900, "normal": 1150, "silver": 1050}
