import jwt
import pytest

from app.auth import issue_token
from app.operators import service
from tests.conftest import bearer


def test_operator_login_gives_token_with_role_and_store(client, stores):
    service.create_operator("clerk", "secret-pass", "staff", "S1")
    response = client.post("/api/v1/auth/operator-login", json={"username": "clerk", "password": "secret-pass"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["operator"] == {"id": body["operator"]["id"], "username": "clerk", "role": "staff",
                                "store_id": stores["S1"].id}
    assert "password" not in response.get_data(as_text=True)


def test_wrong_password_and_unknown_user_answer_alike(client, stores):
    service.create_operator("clerk", "secret-pass", "staff", "S1")
    wrong = client.post("/api/v1/auth/operator-login", json={"username": "clerk", "password": "nope"})
    unknown = client.post("/api/v1/auth/operator-login", json={"username": "ghost", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()


def test_more_than_five_failures_a_minute_is_429(client, stores):
    service.create_operator("clerk", "secret-pass", "staff", "S1")
    for _ in range(5):
        failed = client.post("/api/v1/auth/operator-login", json={"username": "clerk", "password": "x"})
        assert failed.status_code == 401
    blocked = client.post("/api/v1/auth/operator-login", json={"username": "clerk", "password": "secret-pass"})
    assert blocked.status_code == 429
    assert blocked.get_json()["error"]["code"] == "rate_limited"
    other = client.post("/api/v1/auth/operator-login", json={"username": "ghost", "password": "x"})
    assert other.status_code == 401  # the limit is per username


def test_successful_logins_do_not_count(client, stores):
    service.create_operator("clerk", "secret-pass", "staff", "S1")
    for _ in range(8):
        ok = client.post("/api/v1/auth/operator-login", json={"username": "clerk", "password": "secret-pass"})
        assert ok.status_code == 200


@pytest.mark.parametrize("role,store,ok", [("staff", None, False), ("manager", None, False), ("boss", None, False),
                                           ("marketing", None, True), ("staff", "S1", True)])
def test_operator_creation_rules(stores, role, store, ok):
    from app.errors import ApiError

    if ok:
        assert service.create_operator(f"u-{role}", "long-enough", role, store).role == role
    else:
        with pytest.raises(ApiError):
            service.create_operator(f"u-{role}", "long-enough", role, store)


def test_tokens_expired_forged_wrong_kind(client, app, login, at, staff):
    at("2026-01-01T00:00:00+00:00")
    token, _ = login("alice")
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    at("2026-01-09T00:00:00+00:00")  # member tokens live 7 days
    expired = client.get("/api/v1/me", headers=bearer(token))
    assert expired.status_code == 401 and expired.get_json()["error"]["code"] == "token_expired"
    other_key = "not-our-key-but-long-enough-for-hs256!!"
    forged = jwt.encode({"sub": "1", "kind": "member", "exp": 9999999999}, other_key, algorithm="HS256")
    assert client.get("/api/v1/me", headers=bearer(forged)).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer garbage"}).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.get("/api/v1/me").get_json()["error"]["code"] == "missing_token"
    assert client.get("/api/v1/me", headers=staff).status_code == 403  # an operator is not a member


def test_member_and_staff_tokens_cannot_reach_admin(client, login, staff, marketing):
    token, _ = login("alice")
    assert client.get("/api/v1/admin/audit-log", headers=bearer(token)).status_code == 403
    assert client.get("/api/v1/admin/audit-log", headers=staff).status_code == 403
    assert client.get("/api/v1/admin/audit-log", headers=marketing).status_code == 200


def test_operator_token_without_store_cannot_act_at_a_till(client, app):
    with app.test_request_context():
        token = issue_token("operator", 99, role="staff", store_id=None)
    response = client.post("/api/v1/pos/scan", headers=bearer(token), json={"member_code": "1" * 18})
    assert response.status_code == 403


@pytest.mark.parametrize("claims", [
    {"sub": "abc", "kind": "member"},
    {"sub": "1", "kind": "member", "exp": "x"},
    {"sub": "1", "kind": "member", "exp": True},
    {"sub": "1", "kind": 5},
    {"sub": "1", "kind": ["member"]},
    {"sub": "１", "kind": "member"},
    {"sub": str(2**31), "kind": "member"},
    {"sub": "9" * 5000, "kind": "member"},
    {"sub": "0", "kind": "member"},
    {"sub": "1", "kind": "operator", "role": "staff", "store": "S1"},
    {"sub": "1", "kind": "operator", "role": "staff", "store": 2**40},
    {"sub": "1", "kind": "operator", "role": "staff", "store": True},
    {"sub": "1", "kind": "operator", "role": 5, "store": 1},
    {"sub": "1", "kind": "operator", "role": ["admin"]},
])
def test_claims_of_the_wrong_type_are_401(client, app, login, staff, claims):
    """Signed with the key, but not what issue_token writes: int("abc") and a store id "S1" in a query were 500s."""
    login("alice")
    claims = {"exp": 2**40, **claims}
    token = jwt.encode(claims, app.config["SECRET_KEY"], algorithm="HS256")
    for method, path, body in [("GET", "/api/v1/me", None), ("POST", "/api/v1/pos/scan", {"member_code": "1"}),
                               ("GET", "/api/v1/admin/members", None)]:
        response = client.open(path, method=method, headers=bearer(token), json=body)
        assert response.status_code == 401 and response.get_json()["error"]["code"] == "invalid_token", claims
