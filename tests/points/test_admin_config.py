"""Marketing's configuration: products and member prices, the points policy, earn rules (all audited)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.extensions import db
from catalog.models import Product
from points.models import PointsPolicy
from till.models import EarnRule

PRODUCT = {"sku": "BAGEL", "name": "贝果", "category": "bakery", "list_price": 1200,
           "member_prices": {"silver": 1100, "gold": 1000, "vip": 900}}
POLICY = {"points_per_yuan": 2, "expiry_kind": "year_end", "expiry_months": 12, "expiry_years": 2,
          "pending_days": 7, "points_per_yuan_value": 50, "max_deduction_percent": 30}


def _actions() -> list[str]:
    return [a.action for a in db.session.scalars(select(AuditLog).order_by(AuditLog.id))]


def test_product_crud_is_audited(client, marketing, tiers):
    created = client.post("/api/v1/admin/products", headers=marketing, json=PRODUCT)
    assert created.status_code == 201, created.get_json()
    assert created.get_json() == PRODUCT | {"active": True}
    assert client.post("/api/v1/admin/products", headers=marketing, json=PRODUCT).status_code == 409
    change = {"list_price": 1300, "active": False}
    patched = client.patch("/api/v1/admin/products/BAGEL", headers=marketing, json=change)
    assert patched.status_code == 200 and patched.get_json()["list_price"] == 1300
    assert client.get("/api/v1/admin/products/BAGEL", headers=marketing).get_json()["active"] is False
    listing = client.get("/api/v1/admin/products?active=false", headers=marketing).get_json()
    assert [p["sku"] for p in listing["items"]] == ["BAGEL"]
    assert client.get("/api/v1/admin/products/NOPE", headers=marketing).status_code == 404
    assert _actions() == ["product.create", "product.update"]
    update = db.session.scalar(select(AuditLog).where(AuditLog.action == "product.update"))
    assert update.before["list_price"] == 1200 and update.after["list_price"] == 1300


@pytest.mark.parametrize("change", [
    {"list_price": 12.5}, {"list_price": -1}, {"list_price": "1200"}, {"list_price": 10**12},
    {"member_prices": {"platinum": 1000}}, {"member_prices": {"gold": 1300}}, {"member_prices": {"gold": 9.5}},
    {"sku": ""}, {"sku": "has space"}, {"name": ""}, {"colour": "red"},
])
def test_bad_products_are_422(client, marketing, tiers, change):
    response = client.post("/api/v1/admin/products", headers=marketing, json=PRODUCT | change)
    assert response.status_code == 422, response.get_json()
    assert db.session.scalar(select(Product)) is None and _actions() == []


def test_product_patch_cannot_put_list_under_member_price(client, marketing, tiers):
    client.post("/api/v1/admin/products", headers=marketing, json=PRODUCT)
    response = client.patch("/api/v1/admin/products/BAGEL", headers=marketing, json={"list_price": 950})
    assert response.status_code == 422
    assert db.session.scalar(select(Product)).list_price == 1200


def test_config_routes_are_admin_only(client, staff, login):
    token, _ = login("eve")
    for headers in (staff, {"Authorization": f"Bearer {token}"}):
        assert client.post("/api/v1/admin/products", headers=headers, json=PRODUCT).status_code == 403
        assert client.put("/api/v1/admin/points-policy", headers=headers, json=POLICY).status_code == 403
        assert client.get("/api/v1/admin/earn-rules", headers=headers).status_code == 403


def test_policy_get_and_put(client, marketing):
    default = client.get("/api/v1/admin/points-policy", headers=marketing).get_json()
    assert default["points_per_yuan"] == 1 and default["max_deduction_percent"] == 50
    response = client.put("/api/v1/admin/points-policy", headers=marketing, json=POLICY)
    assert response.status_code == 200, response.get_json()
    assert {k: response.get_json()[k] for k in POLICY} == POLICY
    assert db.session.get(PointsPolicy, 1).pending_days == 7
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "points_policy.update"))
    assert audit.before["points_per_yuan"] == 1 and audit.after["points_per_yuan"] == 2


@pytest.mark.parametrize("change", [
    {"points_per_yuan": -1}, {"points_per_yuan": 1000}, {"points_per_yuan": 1.5}, {"expiry_kind": "weekly"},
    {"expiry_months": 0}, {"pending_days": 365}, {"points_per_yuan_value": 0}, {"max_deduction_percent": 101},
    {"extra": 1},
])
def test_bad_policy_is_422_and_changes_nothing(client, marketing, change):
    response = client.put("/api/v1/admin/points-policy", headers=marketing, json=POLICY | change)
    assert response.status_code == 422
    assert client.get("/api/v1/admin/points-policy", headers=marketing).get_json()["points_per_yuan"] == 1


def test_policy_put_needs_every_field(client, marketing):
    body = dict(POLICY)
    body.pop("pending_days")
    assert client.put("/api/v1/admin/points-policy", headers=marketing, json=body).status_code == 422


RULE = {"name": "会员日", "percent": 200, "weekdays": [3], "priority": 10, "stackable": True, "cap_per_day": 500}


def test_earn_rule_crud_is_audited(client, marketing, tiers):
    created = client.post("/api/v1/admin/earn-rules", headers=marketing, json=RULE | {"tiers": ["gold"]})
    assert created.status_code == 201, created.get_json()
    rule_id = created.get_json()["id"]
    assert created.get_json()["tiers"] == ["gold"] and created.get_json()["categories"] is None
    patched = client.patch(f"/api/v1/admin/earn-rules/{rule_id}", headers=marketing, json={"percent": 300})
    assert patched.status_code == 200 and patched.get_json()["percent"] == 300
    assert client.get(f"/api/v1/admin/earn-rules/{rule_id}", headers=marketing).get_json()["percent"] == 300
    assert [r["id"] for r in client.get("/api/v1/admin/earn-rules", headers=marketing).get_json()["items"]] == [rule_id]
    assert client.get("/api/v1/admin/earn-rules/999", headers=marketing).status_code == 404
    assert _actions() == ["earn_rule.create", "earn_rule.update"]


@pytest.mark.parametrize("change", [
    {"percent": 50}, {"percent": 5000}, {"percent": 1.5}, {"weekdays": [0]}, {"weekdays": [8]},
    {"tiers": ["platinum"]}, {"start_date": "2026-05-01", "end_date": "2026-04-01"}, {"cap_per_order": -1},
    {"name": ""}, {"priority": -1}, {"bonus": 1},
])
def test_bad_earn_rules_are_422(client, marketing, tiers, change):
    response = client.post("/api/v1/admin/earn-rules", headers=marketing, json=RULE | change)
    assert response.status_code == 422, response.get_json()
    assert db.session.scalar(select(EarnRule)) is None


def test_earn_rule_patch_is_checked_against_the_stored_rule(client, marketing, tiers):
    rule_id = client.post("/api/v1/admin/earn-rules", headers=marketing,
                          json=RULE | {"start_date": "2026-05-01"}).get_json()["id"]
    response = client.patch(f"/api/v1/admin/earn-rules/{rule_id}", headers=marketing, json={"end_date": "2026-04-01"})
    assert response.status_code == 422
    assert db.session.get(EarnRule, rule_id).end_date is None


def test_an_earn_rule_names_only_what_exists(client, marketing, catalogue):
    for body, field, code in (({"categories": ["coffee", "cofee"]}, "categories", "unknown_category"),
                              ({"skus": ["LATTE", "LATE"]}, "skus", "unknown_sku")):
        response = client.post("/api/v1/admin/earn-rules", headers=marketing, json=RULE | body)
        assert response.status_code == 422 and response.get_json()["error"]["code"] == code
        assert field in response.get_json()["error"]["fields"]
    ok = client.post("/api/v1/admin/earn-rules", headers=marketing, json=RULE | {"categories": ["coffee"]})
    assert ok.status_code == 201 and ok.get_json()["warnings"] == []


def test_a_rule_an_exclusive_rule_above_always_wins_is_saved_with_a_warning(client, marketing, catalogue):
    exclusive = client.post("/api/v1/admin/earn-rules", headers=marketing, json={
        "name": "咖啡节", "percent": 300, "categories": ["coffee"], "priority": 20, "stackable": False}).get_json()
    assert exclusive["warnings"] == []
    shadowed = client.post("/api/v1/admin/earn-rules", headers=marketing, json=RULE | {"categories": ["coffee"]})
    assert shadowed.status_code == 201
    [warning] = shadowed.get_json()["warnings"]
    assert warning["code"] == "shadowed" and warning["rule_id"] == exclusive["id"]
    wider = client.post("/api/v1/admin/earn-rules", headers=marketing, json=RULE | {"name": "全场"})  # all lines
    assert wider.get_json()["warnings"] == []  # tea and cakes still get it
    above = client.patch(f"/api/v1/admin/earn-rules/{shadowed.get_json()['id']}", headers=marketing,
                         json={"priority": 30})
    assert above.get_json()["warnings"] == []  # ranked above the exclusive one now
    client.patch(f"/api/v1/admin/earn-rules/{exclusive['id']}", headers=marketing, json={"active": False})
    again = client.patch(f"/api/v1/admin/earn-rules/{shadowed.get_json()['id']}", headers=marketing,
                         json={"priority": 5})
    assert again.get_json()["warnings"] == []  # the exclusive rule is off
