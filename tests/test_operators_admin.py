"""The admin's operators and stores over the API, an operator's own password, and the till's new reads."""
from __future__ import annotations

import pytest

from app.audit.models import AuditLog
from members import member_code
from tests.conftest import bearer


def _admin(operator_token):
    return bearer(operator_token("admin", None))


def test_admin_lists_creates_and_changes_operators_audited(client, operator_token):
    admin = _admin(operator_token)
    created = client.post("/api/v1/admin/operators", headers=admin,
                          json={"username": "clerk9", "password": "password123", "role": "staff", "store": "S2"})
    assert created.status_code == 201, created.get_json()
    clerk = created.get_json()
    assert (clerk["store_code"], clerk["active"]) == ("S2", True)
    no_store = client.post("/api/v1/admin/operators", headers=admin,
                           json={"username": "clerk10", "password": "password123", "role": "manager"})
    assert no_store.get_json()["error"]["code"] == "store_required"
    changed = client.patch(f"/api/v1/admin/operators/{clerk['id']}", headers=admin,
                           json={"active": False, "role": "marketing"})
    assert changed.status_code == 200 and changed.get_json()["store_id"] is None
    assert client.post("/api/v1/auth/operator-login",
                       json={"username": "clerk9", "password": "password123"}).status_code == 401
    listed = client.get("/api/v1/admin/operators?active=false", headers=admin).get_json()["items"]
    assert [o["username"] for o in listed] == ["clerk9"]
    rows = AuditLog.query.filter_by(target_type="operator", target_id=str(clerk["id"])).order_by(AuditLog.id).all()
    assert [r.action for r in rows] == ["operator.create", "operator.update"]
    assert "password_hash" not in str(rows[0].after)


def test_only_admins_manage_operators_and_stores(client, operator_token, marketing, staff):
    for headers in (marketing, staff):
        assert client.get("/api/v1/admin/operators", headers=headers).status_code == 403
        assert client.post("/api/v1/admin/stores", headers=headers, json={"code": "S9", "name": "x"}).status_code == 403


def test_admin_resets_a_password_and_cannot_lock_themselves_out(client, operator_token):
    admin = _admin(operator_token)
    me = client.get("/api/v1/admin/operators?role=admin", headers=admin).get_json()["items"][0]
    refused = client.patch(f"/api/v1/admin/operators/{me['id']}", headers=admin, json={"active": False})
    assert refused.get_json()["error"]["code"] == "self_lockout"
    staff = client.get("/api/v1/admin/operators?role=staff", headers=admin).get_json()["items"]
    assert staff == []
    operator_token("staff", "S1")
    clerk = client.get("/api/v1/admin/operators?role=staff", headers=admin).get_json()["items"][0]
    client.patch(f"/api/v1/admin/operators/{clerk['id']}", headers=admin, json={"password": "resetpass1"})
    assert client.post("/api/v1/auth/operator-login",
                       json={"username": clerk["username"], "password": "resetpass1"}).status_code == 200


def test_stores_are_listed_and_created_once(client, operator_token):
    admin = _admin(operator_token)
    assert client.post("/api/v1/admin/stores", headers=admin, json={"code": "S3", "name": "新店"}).status_code == 201
    again = client.post("/api/v1/admin/stores", headers=admin, json={"code": "S3", "name": "新店"})
    assert again.get_json()["error"]["code"] == "store_exists"
    codes = [s["code"] for s in client.get("/api/v1/admin/stores", headers=admin).get_json()["items"]]
    assert codes == ["S1", "S2", "S3"]
    assert [r.action for r in AuditLog.query.filter_by(target_type="store")] == ["store.create"]


def test_an_operator_changes_their_own_password_with_the_current_one(client, operator_token):
    token = bearer(operator_token("staff", "S1"))
    wrong = client.post("/api/v1/me/operator/password", headers=token,
                        json={"current_password": "nope", "new_password": "newpassword1"})
    assert wrong.get_json()["error"]["code"] == "wrong_password"
    assert client.post("/api/v1/me/operator/password", headers=token,
                       json={"current_password": "password123", "new_password": "newpassword1"}).status_code == 204
    assert client.post("/api/v1/auth/operator-login",
                       json={"username": "staff1", "password": "newpassword1"}).status_code == 200


def test_the_till_finds_products_on_sale_by_sku_or_name(client, staff, program):
    found = client.get("/api/v1/pos/products?q=拿铁", headers=staff).get_json()["items"]
    assert [p["sku"] for p in found] == ["LATTE", "MATCHA"]  # 拿铁 and 抹茶拿铁 by name
    assert [p["sku"] for p in client.get("/api/v1/pos/products?q=latte", headers=staff).get_json()["items"]] == [
        "LATTE"]  # by SKU, whatever the case
    assert [p["sku"] for p in client.get("/api/v1/pos/products?q=随行", headers=staff).get_json()["items"]] == [
        "TUMBLER"]
    assert client.get("/api/v1/pos/products?q=%25", headers=staff).get_json()["items"] == []  # % is literal


def _demo_staff(client, username: str) -> dict:
    body = client.post("/api/v1/auth/operator-login", json={"username": username, "password": "demo1234"})
    return bearer(body.get_json()["token"])


def test_the_till_reads_an_order_of_its_own_store_only(client, program, login):
    s1, s2 = _demo_staff(client, "staff1"), _demo_staff(client, "staff2")
    _, member_id = login("bob")
    code = member_code.issue(member_id).code
    quote = client.post("/api/v1/pos/quote", headers=s1, json={"member_code": code, "items": [
        {"sku": "LATTE", "qty": 2}], "coupon_ids": []}).get_json()
    client.post("/api/v1/pos/purchases", headers=s1, json={"order_no": "A1", "member_code": code, "items": [
        {"sku": "LATTE", "qty": 2}], "paid": quote["payable"]})
    order = client.get("/api/v1/pos/purchases/A1", headers=s1).get_json()
    assert order["lines"][0]["qty"] == 2 and order["refundable_amount"] == quote["payable"]
    assert order["receipt"]["order_no"] == "A1"
    assert client.get("/api/v1/pos/purchases/A1", headers=s2).status_code == 404


def test_username_and_store_code_formats_are_the_services_rules(app):
    """The console's forms reach the service without the API's schemas: the formats hold there too."""
    from app.errors import ValidationError
    from app.operators import service

    for username in ("店员一", "a", "clerk 1", "ｃｌｅｒｋ"):
        with pytest.raises(ValidationError) as refused:
            service.create_operator(username, "password123", "marketing")
        assert refused.value.code == "bad_username", username
    for code in ("", "S 1", "门店", "S" * 33):
        with pytest.raises(ValidationError) as refused:
            service.create_store(code, "新店")
        assert refused.value.code == "bad_store_code", code
    assert service.create_store("S-9_x", "新店").code == "S-9_x"
