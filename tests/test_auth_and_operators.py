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


def _from(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def test_failures_in_a_username_do_not_lock_its_owner_out(client, stores):
    service.create_operator("clerk", "secret-pass", "staff", "S1")
    for _ in range(5):
        failed = client.post("/api/v1/auth/operator-login", json={"username": "clerk", "password": "x"},
                             **_from("203.0.113.9"))
        assert failed.status_code == 401
    blocked = client.post("/api/v1/auth/operator-login", json={"username": "clerk", "password": "secret-pass"},
                          **_from("203.0.113.9"))
    assert blocked.status_code == 429  # the guessing client
    owner = client.post("/api/v1/auth/operator-login", json={"username": "clerk", "password": "secret-pass"},
                        **_from("198.51.100.7"))
    assert owner.status_code == 200  # the owner, from the till


def test_one_client_trying_many_usernames_is_throttled(client, stores):
    answers = [client.post("/api/v1/auth/operator-login", json={"username": f"user{n}", "password": "x"},
                           **_from("203.0.113.9")).status_code for n in range(30)]
    assert answers == [401] * 20 + [429] * 10
    other = client.post("/api/v1/auth/operator-login", json={"username": "user0", "password": "x"},
                        **_from("198.51.100.7"))
    assert other.status_code == 401


def test_wechat_login_is_throttled_per_client_address(app, client):
    app.config["WECHAT_LOGINS_PER_CLIENT"] = "3/minute"
    try:
        answers = [client.post("/api/v1/auth/wechat-login", json={"code": f"test-m{n}"},
                               **_from("203.0.113.9")).status_code for n in range(4)]
        elsewhere = client.post("/api/v1/auth/wechat-login", json={"code": "test-m9"}, **_from("198.51.100.7"))
    finally:
        app.config["WECHAT_LOGINS_PER_CLIENT"] = "100000/minute"
    assert answers == [200, 200, 200, 429]
    assert elsewhere.status_code == 200


def test_behind_trusted_proxies_the_client_is_the_forwarded_address(app):
    from server import create_app

    proxied = create_app("test", {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "DEMO_DIR", "REDIS_URL",
                                                                   "WECHAT_API_BASE")}
                         | {"TRUSTED_PROXIES": 1, "WECHAT_LOGINS_PER_CLIENT": "1/minute"})
    client = proxied.test_client()

    def login(code: str, forwarded: str) -> int:
        return client.post("/api/v1/auth/wechat-login", json={"code": code}, headers={"X-Forwarded-For": forwarded},
                           **_from("10.0.0.2")).status_code  # 10.0.0.2: the proxy

    assert [login("test-a", "203.0.113.9"), login("test-b", "203.0.113.9")] == [200, 429]
    assert login("test-c", "198.51.100.7") == 200  # another shopper behind the same proxy
