import jwt
import pytest

from app.auth import issue_token
from app.extensions import db
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
    from app.extensions import db
    from app.operators.models import Operator

    storeless = Operator(username="storeless", password_hash="-", role="staff", store_id=None)  # a broken row
    db.session.add(storeless)
    db.session.commit()
    with app.test_request_context():
        token = issue_token("operator", storeless.id, role="staff", store_id=None)
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


def _operator_login(client, username: str) -> dict:
    response = client.post("/api/v1/auth/operator-login", json={"username": username, "password": "secret-pass"})
    assert response.status_code == 200, response.get_json()
    return bearer(response.get_json()["token"])


def test_a_disabled_deleted_or_changed_operator_token_stops_working(client, stores):
    from app.extensions import db
    from app.operators.models import Operator

    for name in ("quits", "leaves", "moves", "stays"):
        service.create_operator(name, "secret-pass", "staff", "S1")
    tokens = {name: _operator_login(client, name) for name in ("quits", "leaves", "moves", "stays")}
    rows = {o.username: o for o in db.session.scalars(db.select(Operator))}
    rows["quits"].active = False
    db.session.delete(rows["leaves"])
    rows["moves"].store_id = stores["S2"].id
    db.session.commit()
    for name in ("quits", "leaves", "moves"):
        refused = client.get("/api/v1/pos/redemptions?member_id=1", headers=tokens[name])
        assert refused.status_code == 401, name
        assert refused.get_json()["error"]["code"] == "token_revoked", name
    assert client.get("/api/v1/pos/redemptions?member_id=1", headers=tokens["stays"]).status_code == 200
    moved = _operator_login(client, "moves")  # a new login carries the new store
    assert client.get("/api/v1/pos/redemptions?member_id=1", headers=moved).status_code == 200


def test_revoking_a_members_sessions_refuses_their_tokens_until_they_log_in_again(client, login, marketing, staff, at):
    from app.audit.models import AuditLog
    from app.extensions import db

    at("2026-03-01T10:00:00+08:00")
    phone, member_id = login("alice")
    laptop, _ = login("alice")
    other, _ = login("bob")
    assert client.get("/api/v1/me", headers=bearer(phone)).status_code == 200
    path = f"/api/v1/admin/members/{member_id}/revoke-sessions"
    assert client.post(path, headers=bearer(phone)).status_code == 403
    assert client.post(path, headers=staff).status_code == 403
    assert client.post("/api/v1/admin/members/999999/revoke-sessions", headers=marketing).status_code == 404
    at("2026-03-01T10:00:00.001+08:00")
    done = client.post(path, headers=marketing)
    assert done.status_code == 200 and done.get_json()["member_id"] == member_id
    for token in (phone, laptop):
        refused = client.get("/api/v1/me", headers=bearer(token))
        assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "token_revoked"
    assert client.get("/api/v1/me", headers=bearer(other)).status_code == 200  # another member: untouched
    at("2026-03-01T10:00:00.002+08:00")
    again, _ = login("alice")
    assert client.get("/api/v1/me", headers=bearer(again)).status_code == 200
    audit = db.session.scalar(db.select(AuditLog).where(AuditLog.action == "member.revoke_sessions"))
    assert audit.target_id == str(member_id) and audit.actor_kind == "operator"


def test_a_deleted_members_token_stops_working(client, login):
    from app.extensions import db
    from members.models import Member, MemberIdentity

    token, member_id = login("ghost")
    db.session.execute(db.delete(MemberIdentity).where(MemberIdentity.member_id == member_id))
    db.session.execute(db.delete(Member).where(Member.id == member_id))
    db.session.commit()
    refused = client.get("/api/v1/me", headers=bearer(token))
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "token_revoked"


@pytest.mark.parametrize("kind", ["member", "operator"])
def test_checking_a_token_against_its_row_is_one_statement(app, login, operator_token, kind):
    from flask import g

    from app.auth import current_identity
    from tests.sql_capture import statements

    token = login("alice")[0] if kind == "member" else operator_token("staff", "S1")
    with app.test_request_context(headers=bearer(token)):
        current_identity()  # an operator's is checked against the configuration copy: loaded once per process
        db.session.rollback()
        g.pop("identity")  # the test's app context (and its g) outlives the request context
    with app.test_request_context(headers=bearer(token)), statements() as sent:
        assert current_identity().kind == kind
        current_identity()  # once per request
    assert len(sent) == 1, sent  # the member's row, or the configuration copy's token


def test_an_operator_check_costs_no_statement_in_a_transaction_that_read_the_configuration(app, operator_token):
    """A quote or a purchase reads the configuration copy's token anyway: the operator's check comes with it."""
    from app import config_cache
    from app.auth import current_identity
    from tests.sql_capture import statements

    token = operator_token("staff", "S1")
    with app.test_request_context(headers=bearer(token)):
        config_cache.get("operator_sessions")
        with statements() as sent:
            assert current_identity().role == "staff"
    assert sent == []


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


def test_a_tokens_signature_is_checked_once_and_its_expiry_every_time(client, login, at, monkeypatch):
    """Decoded claims are cached per token (a till sends one token all day); expiry still counts per request."""
    at("2026-01-01T00:00:00+00:00")
    token, _ = login("alice")
    decodes = []
    real = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *args, **kwargs: decodes.append(1) or real(*args, **kwargs))
    for _ in range(3):
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert len(decodes) <= 1
    at("2026-01-09T00:00:00+00:00")
    assert client.get("/api/v1/me", headers=bearer(token)).get_json()["error"]["code"] == "token_expired"


def test_the_limiter_checks_before_routing_only_when_a_limit_applies_to_every_route(app, client):
    """Without default, application or blueprint limits the before-request check is dropped (it cost every
    request CPU for nothing); the limits that decorate views still hold (the login throttles above)."""
    from app.extensions import limiter
    from server import create_app

    assert limiter._check_request_limit not in app.before_request_funcs[None]
    same = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "DEMO_DIR", "REDIS_URL", "WECHAT_API_BASE")}
    limited = create_app("test", same | {"RATELIMIT_DEFAULT": "2/minute"})
    assert limiter._check_request_limit in limited.before_request_funcs[None]
    statuses = [limited.test_client().get("/api/v1/me").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
