"""POS API keys: made, rotated and revoked by an admin; signed requests checked (window, nonce, signature,
key, store and role); every call in the audit log."""
from __future__ import annotations

import json
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.api_keys import signing
from app.api_keys.models import ApiKey
from app.audit.models import AuditLog
from app.extensions import db
from tests.concurrency import end_test_transaction
from tests.conftest import bearer
from till.models import Purchase

QUOTE = "/api/v1/pos/quote"


@pytest.fixture
def make_key(client, admin, stores):
    def make(store: str | None = "S1", role: str = "staff", **extra) -> dict:
        response = client.post("/api/v1/admin/api-keys", headers=admin,
                               json={"name": f"POS {store}", "role": role, "store": store, **extra})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return make


def signed(key: dict, method: str, path: str, body: dict | None = None, *, secret: str | None = None,
           timestamp: int | None = None, nonce: str | None = None, store: str | None = None) -> dict:
    """The request's keyword arguments for the test client: the body bytes and the signed headers."""
    data = json.dumps(body).encode() if body is not None else b""
    headers = signing.signed_headers(key["key_id"], secret or key["secret"], method, path, data,
                                     int(clock.now().timestamp()) if timestamp is None else timestamp,
                                     nonce or secrets.token_hex(12))
    if store:
        headers[signing.STORE_HEADER] = store
    if body is not None:
        headers["Content-Type"] = "application/json"
    return {"method": method, "path": path, "data": data, "headers": headers}


def call(client, key, method, path, body=None, **options):
    return client.open(**signed(key, method, path, body, **options))


def code_of(response) -> str:
    return response.get_json()["error"]["code"]


def test_the_secret_is_shown_once_and_never_stored(client, admin, make_key):
    key = make_key()
    assert key["secret"].startswith("sk_") and key["key_id"].startswith("pk_")
    row = db.session.scalar(select(ApiKey))
    assert key["secret"] not in json.dumps({c.key: str(getattr(row, c.key)) for c in ApiKey.__table__.c})
    listed = client.get("/api/v1/admin/api-keys", headers=admin).get_json()["items"]
    assert [item["key_id"] for item in listed] == [key["key_id"]] and "secret" not in listed[0]
    assert "secret" not in client.get(f"/api/v1/admin/api-keys/{key['id']}", headers=admin).get_json()


def test_only_admins_manage_keys(client, marketing, staff, stores):
    for headers in (marketing, staff):
        response = client.post("/api/v1/admin/api-keys", headers=headers, json={"name": "x", "role": "staff"})
        assert response.status_code == 403


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "role": "admin"}, "role"),
    ({"name": "", "role": "staff"}, "name"),
    ({"name": "x", "role": "staff", "rate_per_minute": 0}, "rate_per_minute"),
    ({"name": "x", "role": "staff", "rate_per_minute": "5"}, "rate_per_minute"),
    ({"name": "x", "role": "staff", "store": "NOPE"}, "store"),
])
def test_a_bad_key_request_is_refused_and_makes_nothing(client, admin, stores, body, field):
    response = client.post("/api/v1/admin/api-keys", headers=admin, json=body)
    assert response.status_code == 422 and field in response.get_json()["error"]["fields"]
    assert db.session.scalar(select(ApiKey)) is None


def test_a_signed_request_acts_in_the_keys_store(client, make_key, shopper):
    key = make_key("S1")
    _, member_id = shopper
    response = call(client, key, "POST", QUOTE, {"member_id": member_id, "items": [{"sku": "LATTE", "qty": 1}]})
    assert response.status_code == 200, response.get_json()
    bought = call(client, key, "POST", "/api/v1/pos/purchases",
                  {"order_no": "K1", "member_id": member_id, "items": [{"sku": "LATTE", "qty": 1}], "paid": 3000})
    assert bought.status_code == 201, bought.get_json()
    purchase = db.session.scalar(select(Purchase))
    assert (purchase.store_id, purchase.operator_id) == (key_store(key), None)


def key_store(key: dict) -> int:
    return db.session.scalar(select(ApiKey.store_id).where(ApiKey.key_id == key["key_id"]))


def test_an_s1_key_cannot_refund_an_s2_order(client, make_key, shopper, operator_token):
    _, member_id = shopper
    s2_staff = bearer(operator_token("staff", "S2"))
    sold = client.post("/api/v1/pos/purchases", headers=s2_staff, json={
        "order_no": "S2-1", "member_id": member_id, "items": [{"sku": "LATTE", "qty": 1}], "paid": 3000})
    assert sold.status_code == 201
    key = make_key("S1")
    refund = call(client, key, "POST", "/api/v1/pos/purchases/S2-1/refunds", {"refund_no": "R1", "full": True})
    assert refund.status_code == 404  # another store's order does not exist for this key
    named = call(client, key, "POST", "/api/v1/pos/purchases/S2-1/refunds", {"refund_no": "R1", "full": True},
                 store="S2")
    assert named.status_code == 403 and code_of(named) == "wrong_store"
    every = make_key(None)
    assert code_of(call(client, every, "GET", "/api/v1/pos/purchases/S2-1")) == "store_header_required"
    assert call(client, every, "GET", "/api/v1/pos/purchases/S2-1", store="S2").status_code == 200


def test_a_key_cannot_use_admin_or_member_routes(client, make_key):
    key = make_key("S1", role="manager")
    assert call(client, key, "GET", "/api/v1/admin/api-keys").status_code == 403
    assert call(client, key, "GET", "/api/v1/me").status_code == 403
    own_password = call(client, key, "POST", "/api/v1/me/operator/password",
                        {"current_password": "password123", "new_password": "password456"})
    assert own_password.status_code == 403  # a route for people, whatever their role


def test_refusals_have_clear_codes(client, make_key, at, shopper):
    at("2026-03-05T10:00:00+08:00")
    key = make_key("S1")
    body = {"member_id": shopper[1], "items": [{"sku": "LATTE", "qty": 1}]}
    now = int(clock.now().timestamp())
    cases = {
        "stale_timestamp": signed(key, "POST", QUOTE, body, timestamp=now - 301),
        "bad_nonce": signed(key, "POST", QUOTE, body, nonce="short"),
        "bad_signature": signed(key, "POST", QUOTE, body, secret="sk_wrong"),
    }
    future = signed(key, "POST", QUOTE, body, timestamp=now + 301)
    assert code_of(client.open(**future)) == "stale_timestamp"
    for code, request in cases.items():
        response = client.open(**request)
        assert (response.status_code, code_of(response)) == (401, code), code
    tampered = signed(key, "POST", QUOTE, body)
    tampered["data"] = json.dumps({**body, "items": [{"sku": "LATTE", "qty": 9}]}).encode()
    assert code_of(client.open(**tampered)) == "bad_signature"
    other_path = signed(key, "POST", QUOTE, body)
    assert code_of(client.open(**{**other_path, "path": "/api/v1/pos/purchases"})) == "bad_signature"
    unknown = client.open(**signed({**key, "key_id": "pk_" + "0" * 24}, "POST", QUOTE, body))
    assert code_of(unknown) == "unknown_api_key"
    missing = signed(key, "POST", QUOTE, body)
    del missing["headers"][signing.NONCE_HEADER]
    response = client.open(**missing)
    assert code_of(response) == "missing_signature" and "X-Nonce" in response.get_json()["error"]["fields"]
    within = client.open(**signed(key, "POST", QUOTE, body, timestamp=now - 299))
    assert within.status_code == 200


def test_a_replayed_request_is_refused(client, make_key, shopper):
    key = make_key("S1")
    request = signed(key, "POST", "/api/v1/pos/purchases", {
        "order_no": "R1", "member_id": shopper[1], "items": [{"sku": "LATTE", "qty": 1}], "paid": 3000})
    assert client.open(**request).status_code == 201
    replay = client.open(**request)
    assert (replay.status_code, code_of(replay)) == (401, "nonce_reused")


def test_rotation_keeps_the_old_secret_for_its_grace_then_refuses_it(client, admin, make_key, at):
    at("2026-03-05T10:00:00+08:00")
    key = make_key("S1")
    rotated = client.post(f"/api/v1/admin/api-keys/{key['id']}/rotate", headers=admin, json={"grace_hours": 2})
    assert rotated.status_code == 200
    new = rotated.get_json()
    assert new["secret"] != key["secret"] and new["key_id"] == key["key_id"]
    path = "/api/v1/pos/purchases/NONE"
    assert call(client, key, "GET", path).status_code == 404  # old secret: accepted (the order is unknown)
    assert call(client, new, "GET", path).status_code == 404
    at("2026-03-05T12:00:01+08:00")
    assert code_of(call(client, key, "GET", path)) == "bad_signature"
    assert call(client, new, "GET", path).status_code == 404


def test_a_revoked_key_stops_at_once(client, admin, make_key):
    key = make_key("S1")
    assert client.delete(f"/api/v1/admin/api-keys/{key['id']}", headers=admin).status_code == 200
    assert code_of(call(client, key, "GET", "/api/v1/pos/purchases/X")) == "api_key_revoked"
    again = client.post(f"/api/v1/admin/api-keys/{key['id']}/rotate", headers=admin, json={})
    assert again.status_code == 409


def test_each_key_has_its_own_rate_limit(client, make_key):
    slow, other = make_key("S1", rate_per_minute=3), make_key("S1")
    path = "/api/v1/pos/purchases/NONE"
    assert [call(client, slow, "GET", path).status_code for _ in range(4)] == [404, 404, 404, 429]
    assert call(client, other, "GET", path).status_code == 404


def test_every_call_and_its_writes_are_attributed_in_the_audit_log(client, make_key, shopper):
    key = make_key("S1")
    call(client, key, "GET", "/api/v1/pos/purchases/NONE")
    rows = db.session.scalars(select(AuditLog).where(AuditLog.action == "api_key.call")).all()
    assert len(rows) == 1
    row = rows[0]
    assert (row.actor_kind, row.actor_name, row.after["path"], row.after["status"]) == (
        "api_key", "POS S1", "/api/v1/pos/purchases/NONE", 404)
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.target_type == "api_key")).all()
    assert "api_key.create" in actions


def test_openapi_documents_the_signature_scheme(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["apiKeySignature"]["name"] == "X-Api-Key"
    purchase = spec["paths"]["/api/v1/pos/purchases"]["post"]
    assert {"apiKeySignature": []} in purchase["security"]
    admin_route = spec["paths"]["/api/v1/admin/api-keys"]["post"]
    assert {"apiKeySignature": []} not in admin_route["security"]


def test_concurrent_replays_of_one_request_run_once(app, make_key, shopper):
    from tests.concurrency import fire

    key = make_key("S1")
    request = signed(key, "POST", "/api/v1/pos/purchases", {
        "order_no": "C1", "member_id": shopper[1], "items": [{"sku": "LATTE", "qty": 1}], "paid": 3000})
    end_test_transaction()
    body = json.loads(request["data"])
    results = fire(app, [("POST", request["path"], request["headers"], body)] * 4)
    statuses = sorted(status for status, _ in results)
    assert statuses == [201, 401, 401, 401]
    assert len(db.session.scalars(select(Purchase)).all()) == 1


def test_grace_hours_are_bounded(client, admin, make_key):
    key = make_key("S1")
    response = client.post(f"/api/v1/admin/api-keys/{key['id']}/rotate", headers=admin,
                           json={"grace_hours": 24 * 8})
    assert response.status_code == 422
    assert db.session.get(ApiKey, key["id"]).previous_salt is None
    assert clock.now() - timedelta(minutes=1) < clock.now()
