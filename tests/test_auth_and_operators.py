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


@pytest.mark.parametrize(("method", "stored"), [("scrypt", "scrypt:32768:8:1"), ("pbkdf2:sha256:1", "pbkdf2:sha256:1")])
def test_passwords_and_the_unknown_users_check_use_the_configured_method(client, stores, app, monkeypatch, method,
                                                                         stored):
    """Production hashes with scrypt, the suite with a cheap method; an unknown username is checked against a
    hash of the same method, so it costs what a known one does."""
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", method)
    service.create_operator("clerk", "secret-pass", "staff", "S1")
    checked: list[str] = []
    real_check = service.check_password_hash

    def check(pwhash: str, password: str) -> bool:
        checked.append(pwhash)
        return real_check(pwhash, password)

    monkeypatch.setattr(service, "check_password_hash", check)
    for username in ("clerk", "ghost"):
        client.post("/api/v1/auth/operator-login", json={"username": username, "password": "nope"})
    assert [h.split("$")[0] for h in checked] == [stored, stored]  # the clerk's hash, then the dummy


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
