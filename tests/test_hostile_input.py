"""Hostile input (issue 14): each case below gave a 500 (or broke every audited write). Each must now be a 4xx
in the API's one envelope and change nothing, on SQLite and on PostgreSQL."""
from __future__ import annotations

import base64
import json
import re

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditLog
from app.extensions import db
from app.fields import MAX_ID
from app.inbound import IdConverter
from members.models import Member
from tests.conftest import bearer

BIG_IDS = (2**31, 2**63)


def _error(response, status: int, code: str | None = None) -> dict:
    body = response.get_json()
    assert response.status_code == status, (response.status_code, body)
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


# --- ids out of the columns' range -------------------------------------------------------------------

@pytest.fixture
def callers(login, operator_token):
    """A token of every kind, so a route is reached by a caller it accepts (were the URL to match)."""
    token, _ = login("alice")
    return {"member": bearer(token), "staff": bearer(operator_token("staff", "S1")),
            "manager": bearer(operator_token("manager", "S1")), "admin": bearer(operator_token("admin"))}


def _id_routes(app) -> list:
    routes = []
    for rule in app.url_map.iter_rules():
        ids = [name for name, converter in rule._converters.items()
               if isinstance(converter, IdConverter) or name == "id" or name.endswith("_id")]
        if ids:
            routes.append((rule, ids))
    return routes


def test_every_id_in_a_path_is_bounded(app, client, callers):
    """Walk every route with an id-like path parameter: 2**31 (PostgreSQL's integer) and 2**63 (SQLite's)
    are a 404 (the URL names nothing) or a 422, for every method and caller; never a 500."""
    routes = _id_routes(app)
    assert len(routes) >= 15, routes  # coupon claim, redemption cancel/fulfil, admin member, revoke, PATCHes...
    for rule, ids in routes:
        for big in BIG_IDS:
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>",
                          lambda m, big=big, ids=ids: str(big) if m.group(1) in ids else "x", rule.rule)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                for who, headers in callers.items():
                    response = client.open(path, method=method, headers=headers, json={})
                    assert response.status_code in (404, 422), (method, path, who, response.get_json())
                    assert "error" in response.get_json()


def test_path_ids_are_ascii_digits(client, marketing):
    for path in ("/api/v1/admin/members/１", "/api/v1/admin/members/٣", "/api/v1/admin/members/" + "9" * 5000,
                 "/api/v1/admin/members/0", "/api/v1/admin/members/-1"):
        _error(client.get(path, headers=marketing), 404, "not_found")


def test_ids_in_bodies_and_query_strings_are_bounded(client, callers, stores):
    staff, member, admin = callers["staff"], callers["member"], callers["admin"]
    cart = [{"sku": "X", "qty": 1}]
    for big in BIG_IDS:
        cases = [
            ("POST", "/api/v1/pos/quote", staff, {"member_id": big, "items": cart}),
            ("POST", "/api/v1/pos/quote", staff, {"member_id": 1, "items": cart, "coupon_ids": [big]}),
            ("POST", "/api/v1/pos/purchases", staff, {"order_no": "B1", "member_id": big, "items": cart, "paid": 0}),
            ("POST", "/api/v1/redemptions", member, {"item_id": big, "quantity": 1, "store_code": "S1"}),
            ("POST", "/api/v1/vip/orders", member, {"plan_id": big}),
            ("GET", f"/api/v1/admin/redemptions?member_id={big}", admin, None),
            ("GET", f"/api/v1/admin/redemptions?item_id={big}", admin, None),
            ("GET", f"/api/v1/pos/redemptions?member_id={big}", staff, None),
            ("GET", f"/api/v1/admin/members?member_id={big}", admin, None),
            ("GET", f"/api/v1/admin/audit-log?actor_id={big}", admin, None),
            ("POST", "/api/v1/admin/audiences/preview", admin, {"points_min": big}),
        ]
        for method, path, headers, body in cases:
            _error(client.open(path, method=method, headers=headers, json=body), 422, "validation_error")


def _input_schemas(spec: dict):
    """(where, schema) of every request body and parameter of the OpenAPI document."""
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for parameter in operation.get("parameters", []):
                yield f"{method.upper()} {path} {parameter['in']}:{parameter['name']}", parameter.get("schema", {})
            for content in operation.get("requestBody", {}).get("content", {}).values():
                yield f"{method.upper()} {path} body", content.get("schema", {})


def test_every_integer_a_client_sends_is_bounded(client):
    """Structurally: every integer in a request (body, query, path; nested ones too) has bounds inside the
    INTEGER columns' range, so no number a client makes up reaches a statement the database refuses."""
    spec = client.get("/api/openapi.json").get_json()
    components = spec["components"]["schemas"]
    unbounded = []

    def walk(schema: dict, where: str, seen: frozenset) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(components[name], where, seen | {name})
            return
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in schema.get(key, []):
                walk(sub, where, seen)
        types = schema.get("type")
        if types == "integer" or (isinstance(types, list) and "integer" in types):
            low, high = schema.get("minimum"), schema.get("maximum")
            if "enum" not in schema and (low is None or high is None or low < -(2**31) or high > MAX_ID):
                unbounded.append((where, low, high))
        for name, prop in (schema.get("properties") or {}).items():
            walk(prop, f"{where}.{name}", seen)
        if isinstance(schema.get("items"), dict):
            walk(schema["items"], f"{where}[]", seen)
        if isinstance(schema.get("additionalProperties"), dict):
            walk(schema["additionalProperties"], f"{where}{{}}", seen)

    inputs = list(_input_schemas(spec))
    assert len(inputs) > 50
    for where, schema in inputs:
        walk(schema, where, frozenset())
    assert unbounded == []


# --- JSON bodies ----------------------------------------------------------------------------------------

DEEP = "[" * 1000 + "]" * 1000
HUGE_INT = '{"code": ' + "9" * 4301 + "}"  # Python parses at most 4,300 digits


@pytest.mark.parametrize("raw", [DEEP, '{"code": ' + "[" * 1000 + "]" * 1000 + "}", HUGE_INT,
                                 '{"username": ' + "1" * 5000 + ', "password": "x"}',
                                 "[" * 40 + "]" * 40, "{not json", '"\\ud800'])
def test_unparseable_json_is_400_on_the_login_routes(client, raw):
    for path in ("/api/v1/auth/wechat-login", "/api/v1/auth/operator-login"):
        error = _error(client.post(path, data=raw, content_type="application/json"), 400, "malformed_json")
        assert "not valid JSON" in error["message"]
    assert _count(Member) == 0


def test_unparseable_json_is_400_on_authenticated_routes(client, login, staff):
    token, member_id = login("alice")
    for raw in (DEEP, HUGE_INT):
        _error(client.patch("/api/v1/me", data=raw, content_type="application/json", headers=bearer(token)), 400,
               "malformed_json")
        _error(client.post("/api/v1/pos/purchases", data=raw, content_type="application/json", headers=staff), 400,
               "malformed_json")
    assert db.session.get(Member, member_id).nickname is None


def test_a_body_above_one_mebibyte_is_413(client, app):
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    big = json.dumps({"code": "x" * (1024 * 1024)})
    _error(client.post("/api/v1/auth/wechat-login", data=big, content_type="application/json"), 413,
           "payload_too_large")
    assert _count(Member) == 0


# --- NUL and lone surrogates ---------------------------------------------------------------------------

def test_a_lone_surrogate_in_a_nickname_is_422(client, login):
    token, member_id = login("alice")
    for raw in ('{"nickname": "\\ud800"}', '{"nickname": "ok\\udfff"}', '{"\\ud800": "x"}'):
        _error(client.patch("/api/v1/me", data=raw, content_type="application/json", headers=bearer(token)), 422,
               "invalid_characters")
    ok = client.patch("/api/v1/me", data='{"nickname": "\\ud83d\\ude00"}', content_type="application/json",
                      headers=bearer(token))  # a surrogate pair is an emoji: fine
    assert ok.status_code == 200 and ok.get_json()["nickname"] == "😀"


def test_nul_is_422_in_bodies_queries_and_paths(client, login, staff, marketing):
    token, member_id = login("alice")
    cases = [
        ("POST", "/api/v1/auth/wechat-login", None, {"code": "test-a\u0000b"}),
        ("POST", "/api/v1/auth/operator-login", None, {"username": "staff\u0000", "password": "x"}),
        ("POST", "/api/v1/pos/coupons/verify", staff, {"coupon_code": "1234\u0000"}),
        ("POST", "/api/v1/admin/products", marketing, {"sku": "NUL1", "name": "n", "category": "tea\u0000",
                                                       "list_price": 100}),
        ("PATCH", "/api/v1/me", bearer(token), {"nickname": "a\u0000b"}),
        ("GET", "/api/v1/admin/members?nickname=a%00b", marketing, None),
        ("GET", "/api/v1/admin/members?phone%00=1", marketing, None),
        ("GET", "/api/v1/admin/products?category=tea%00", marketing, None),
        ("GET", "/api/v1/admin/products/SKU%00X", marketing, None),
        ("DELETE", f"/api/v1/admin/members/{member_id}/tags?tag=a%00", marketing, None),
    ]
    for method, path, headers, body in cases:
        _error(client.open(path, method=method, headers=headers, json=body), 422, "invalid_characters")
    assert _count(Member) == 1 and db.session.get(Member, member_id).nickname is None


# --- cursors --------------------------------------------------------------------------------------------

def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("raw", [b"9" * 30, str(2**31).encode(), str(2**63).encode(), b"-1", b"true", b"1.5",
                                 b"[1]", b'"1"', b"[" * 2000 + b"]" * 2000, b"9" * 5000, b"\xff\xfe"])
def test_made_up_cursors_are_422_bad_cursor(client, login, marketing, raw):
    token, _ = login("alice")
    for path, headers in [("/api/v1/admin/redemptions", marketing), ("/api/v1/admin/members", marketing),
                          ("/api/v1/me/points/ledger", bearer(token)), ("/api/v1/me/coupons", bearer(token))]:
        _error(client.get(f"{path}?cursor={_cursor(raw)}", headers=headers), 422, "bad_cursor")


def test_a_real_cursor_still_pages(client, marketing, login):
    for n in range(3):
        login(f"m{n}")
    first = client.get("/api/v1/admin/members?limit=2", headers=marketing).get_json()
    rest = client.get(f"/api/v1/admin/members?limit=2&cursor={first['next_cursor']}", headers=marketing).get_json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None


# --- X-Request-ID -------------------------------------------------------------------------------------

RULE = {"name": "双倍", "percent": 200}


def test_a_long_request_id_does_not_break_audited_writes(client, marketing):
    long_id = "trace-" + "a" * 100
    response = client.post("/api/v1/admin/earn-rules", headers={**marketing, "X-Request-ID": long_id}, json=RULE)
    assert response.status_code == 201, response.get_json()
    assert response.headers["X-Request-ID"] == long_id[:64]
    odd = client.post("/api/v1/admin/earn-rules", headers={**marketing, "X-Request-ID": "a b <c>"}, json=RULE)
    assert odd.status_code == 201 and re.fullmatch(r"[0-9a-f]{32}", odd.headers["X-Request-ID"])
    kept = client.post("/api/v1/admin/earn-rules", headers={**marketing, "X-Request-ID": "req-42"}, json=RULE)
    assert kept.status_code == 201 and kept.headers["X-Request-ID"] == "req-42"
    ids = [row.request_id for row in db.session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert ids == [long_id[:64], odd.headers["X-Request-ID"], "req-42"]
