"""Health, OpenAPI, the error envelope, the audit log, production config and the operator CLI."""
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from app import clock
from app.audit import service as audit
from app.extensions import db
from config import ProductionConfig
from server import create_app


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readiness_fails_when_redis_is_gone(client, app):
    import redis

    saved = app.extensions["redis"]
    app.extensions["redis"] = redis.Redis(unix_socket_path="/nonexistent/redis.sock")
    try:
        response = client.get("/readyz")
    finally:
        app.extensions["redis"] = saved
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"].startswith("error")


def test_an_autocommit_connection_gets_no_begin():
    """VACUUM refuses to run inside a transaction: SQLAlchemy's AUTOCOMMIT level must still mean no BEGIN on
    SQLite, where app/extensions.py begins every other transaction itself."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM"))


def test_openapi_document_lists_routes_and_security(client):
    spec = client.get("/api/openapi.json").get_json()
    for path in ("/api/v1/auth/wechat-login", "/api/v1/me", "/api/v1/me/code", "/api/v1/pos/scan",
                 "/api/v1/auth/operator-login", "/api/v1/admin/audit-log"):
        assert path in spec["paths"], path
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert spec["paths"]["/api/v1/me"]["get"]["security"] == [{"bearer": []}]
    page = client.get("/api/docs")
    assert page.status_code == 200 and "/api/docs/assets/swagger-ui-bundle.js" in page.get_data(as_text=True)
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):  # served here: the docs work without a CDN
        response = client.get(f"/api/docs/assets/{asset}")
        assert response.status_code == 200 and len(response.data) > 1000, asset
    assert client.get("/api/docs/assets/../../config.py").status_code == 404


def test_error_envelope_for_404_405_and_500(client, app):
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    wrong_method = client.delete("/api/v1/me")
    assert wrong_method.status_code == 405 and wrong_method.get_json()["error"]["code"] == "method_not_allowed"

    crashing = create_app("test", {k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "DEMO_DIR", "REDIS_URL")})
    crashing.config["TESTING"] = False  # let the error handler answer instead of pytest seeing the exception

    @crashing.get("/boom-for-test")
    def boom():
        raise RuntimeError("secret internals")

    crashed = crashing.test_client().get("/boom-for-test", headers={"X-Request-ID": "req-42"})
    assert crashed.status_code == 500
    assert crashed.get_json()["error"]["code"] == "internal_error"
    assert "secret internals" not in crashed.get_data(as_text=True)
    assert "req-42" in crashed.get_json()["error"]["message"]


def test_audit_log_filters_and_cursor(client, marketing):
    for i in range(5):
        audit.record("tier.update", "tier", i, {"name": "a"}, {"name": "b"})
    audit.record("product.create", "product", "SKU1", None, {"sku": "SKU1"})
    db.session.commit()
    first = client.get("/api/v1/admin/audit-log?action=tier.update&limit=3", headers=marketing).get_json()
    assert [e["target_id"] for e in first["items"]] == ["4", "3", "2"]
    rest = client.get(f"/api/v1/admin/audit-log?action=tier.update&limit=3&cursor={first['next_cursor']}",
                      headers=marketing).get_json()
    assert [e["target_id"] for e in rest["items"]] == ["1", "0"] and rest["next_cursor"] is None
    assert first["items"][0]["before"] == {"name": "a"} and first["items"][0]["after"] == {"name": "b"}
    clock.set_now(datetime(2026, 3, 1, 15, 30, tzinfo=UTC))  # 23:30 on 1 March in Shanghai
    audit.record("tier.update", "tier", 99, None, {"name": "late"})
    db.session.commit()
    clock.set_now(None)
    on_day = client.get("/api/v1/admin/audit-log?since=2026-03-01&until=2026-03-01", headers=marketing)
    assert on_day.status_code == 200 and [e["target_id"] for e in on_day.get_json()["items"]] == ["99"]
    before = client.get("/api/v1/admin/audit-log?until=2026-02-28", headers=marketing).get_json()["items"]
    assert before == []
    moment = client.get("/api/v1/admin/audit-log?since=2026-03-01T23:00:00%2B08:00", headers=marketing).get_json()
    assert "99" in [e["target_id"] for e in moment["items"]]
    for wrong in ("2026-02-30", "yesterday", "2026-3-1"):
        refused = client.get(f"/api/v1/admin/audit-log?since={wrong}", headers=marketing)
        assert refused.status_code == 422 and "since" in refused.get_json()["error"]["fields"], wrong
    bad = client.get("/api/v1/admin/audit-log?cursor=%%%", headers=marketing)
    assert bad.status_code == 422
    too_many = client.get("/api/v1/admin/audit-log?limit=1000", headers=marketing)
    assert too_many.status_code == 422 and "limit" in too_many.get_json()["error"]["fields"]


@pytest.mark.parametrize("env,problem", [
    ({}, "SECRET_KEY"),
    ({"SECRET_KEY": "s" * 40, "MEMBER_CODE_SECRET": "m" * 40}, "DATABASE_URL"),
    ({"SECRET_KEY": "s" * 40, "MEMBER_CODE_SECRET": "m" * 40}, "WECHAT_PAY_API_KEY must be set"),
    ({"WECHAT_SECRET": ProductionConfig.WECHAT_SECRET}, "WECHAT_SECRET must be set"),
])
def test_production_refuses_unsafe_settings(monkeypatch, env, problem):
    for name in ("SECRET_KEY", "MEMBER_CODE_SECRET", "DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    values = {"SECRET_KEY": ProductionConfig.SECRET_KEY, "MEMBER_CODE_SECRET": ProductionConfig.MEMBER_CODE_SECRET,
              "SQLALCHEMY_DATABASE_URI": "sqlite:///x.sqlite", "REDIS_URL": None, "TEST_LOGINS": False, **env}
    with pytest.raises(RuntimeError) as refused:
        ProductionConfig.check(values)
    assert problem in str(refused.value)


def test_production_app_refuses_test_logins(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    with pytest.raises(RuntimeError) as refused:
        create_app("production", {"SECRET_KEY": "k" * 40, "MEMBER_CODE_SECRET": "c" * 40,
                                  "REDIS_URL": "redis://127.0.0.1:6379/15", "TEST_LOGINS": True})
    assert "test logins" in str(refused.value)


def test_test_login_codes_are_refused_without_test_logins(client, app):
    app.config["TEST_LOGINS"] = False
    try:
        response = client.post("/api/v1/auth/wechat-login", json={"code": "test-mallory"})
    finally:
        app.config["TEST_LOGINS"] = True
    assert response.status_code == 401  # went to (fake) WeChat, which does not know the code


def test_cli_creates_stores_and_operators(app):
    runner = app.test_cli_runner()
    assert "store S9 created" in runner.invoke(args=["stores", "create", "--code", "S9", "--name", "新店"]).output
    made = runner.invoke(args=["operators", "create", "--username", "c9", "--password", "password9",
                               "--role", "staff", "--store", "S9"])
    assert "operator c9 (staff) created" in made.output
    dup = runner.invoke(args=["stores", "create", "--code", "S9", "--name", "again"])
    assert dup.exit_code != 0 and "store_exists" in dup.output
    nostore = runner.invoke(args=["operators", "create", "--username", "c10", "--password", "password9",
                                  "--role", "staff"])
    assert nostore.exit_code != 0


def test_points_verify_cli_reports_drift(app, login):
    from points import ledger as points

    _, member_id = login("alice")
    points.credit(member_id, 100, kind="grant", key="t1", cause_type="test")
    db.session.commit()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["points", "verify"]).exit_code == 0
    account = points.lock_account(member_id)
    account.available += 5  # a drift
    db.session.commit()
    drifted = runner.invoke(args=["points", "verify"])
    assert drifted.exit_code == 1 and f"member {member_id}" in drifted.output
    account = points.lock_account(member_id)
    account.available -= 5
    db.session.commit()


def test_audit_rows_name_the_operator(client, operator_token):
    from app.audit.models import AuditLog

    for username in ("mkt-ann", "mkt-bob"):
        from app.operators import service as operators

        operators.create_operator(username, "pw-123456789", "marketing", None)
        token = client.post("/api/v1/auth/operator-login",
                            json={"username": username, "password": "pw-123456789"}).get_json()["token"]
        response = client.post("/api/v1/admin/products", headers={"Authorization": f"Bearer {token}"},
                               json={"sku": f"SKU-{username}", "name": "x", "category": "c", "list_price": 100})
        assert response.status_code == 201, response.get_json()
    rows = db.session.scalars(db.select(AuditLog).where(AuditLog.action == "product.create").order_by(AuditLog.id))
    assert [(r.actor_kind, r.actor_name) for r in rows] == [("operator", "mkt-ann"), ("operator", "mkt-bob")]


def test_role_decorators_keep_the_docstrings_description():
    from app.auth import member_required

    @member_required
    def route():
        """Summary line.

        What the route does, at length."""

    @member_required
    def terse():
        """Only a summary."""

    assert route._apidoc["manual_doc"]["description"] == "Caller: member.\n\nWhat the route does, at length."
    assert terse._apidoc["manual_doc"]["description"] == "Caller: member."


STRONG = "Xq3v9LmT2pRk8sWz4yBn7cFd1gHj6aKe"  # 32 random characters


@pytest.mark.parametrize("name,value,reason", [
    ("SECRET_KEY", "a", "must be at least 32 characters"),
    ("SECRET_KEY", "a" * 64, "must be random"),
    ("SECRET_KEY", "ab" * 32, "must be random"),
    ("MEMBER_CODE_SECRET", "short-but-not-repeated", "must be at least 32 characters"),
    ("MEMBER_CODE_SECRET", "z" * 40, "must be random"),
    ("WECHAT_PAY_API_KEY", STRONG + "x", "must be exactly 32 characters"),
    ("WECHAT_PAY_API_KEY", "k" * 32, "must be random"),
    ("WECHAT_PAY_API_KEY", "demo-pay-key-0123456789abcdef0123", "must be set"),
])
def test_production_refuses_weak_secrets(monkeypatch, name, value, reason):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/prod")
    values = {"SECRET_KEY": STRONG + "-signing", "MEMBER_CODE_SECRET": STRONG + "-codes", "WECHAT_PAY_API_KEY": STRONG,
              "WECHAT_APPID": "wx1234", "WECHAT_SECRET": "real-secret", "WECHAT_MCH_ID": "1900000109",
              "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:5432/prod",
              "REDIS_URL": "redis://127.0.0.1:6379/0", "TEST_LOGINS": False}
    ProductionConfig.check(values)  # the strong set starts
    with pytest.raises(RuntimeError) as refused:
        ProductionConfig.check({**values, name: value})
    assert f"{name} {reason}" in str(refused.value)


def test_seed_demo_refuses_to_run_in_production(app):
    from app.operators.models import Operator

    app.config["MODE"] = "production"
    try:
        result = app.test_cli_runner().invoke(args=["seed-demo"])
    finally:
        app.config["MODE"] = "test"
    assert result.exit_code != 0 and "refuses to run in production" in result.output
    assert db.session.scalar(db.select(db.func.count()).select_from(Operator)) == 0
