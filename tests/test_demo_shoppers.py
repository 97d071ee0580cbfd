"""The demo's shoppers: eight months written through the real services, so every report shows a living program."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

import demo
from app import clock
from app.extensions import db
from marketing.models import MemberLifecycle
from reports import summary
from tests.conftest import bearer
from till.models import Purchase


def test_the_demo_program_has_shoppers_with_history(client, at):
    at("2026-03-05T10:00:00+08:00")
    lines = demo.seed()
    assert clock.business_today().isoformat() == "2026-03-05"  # the seed puts the clock back where it was
    assert any(line.startswith("demo shoppers: 24 with") for line in lines)
    stages = dict(db.session.execute(select(MemberLifecycle.stage, func.count()).group_by(MemberLifecycle.stage)).all())
    assert stages["new"] == 2 and stages["active"] >= 10 and stages["at_risk"] >= 3 and stages["lapsed"] >= 3

    today = clock.business_today()
    month = summary.summary(today - timedelta(days=30), today)
    assert month["purchases"]["count"] > 20 and month["purchases"]["refunds"]["count"] == 1
    assert month["checkins"] > 50 and month["redemptions"] > 0 and month["coupons"]["used"] > 0
    assert month["invites"]["converted"] >= 1

    purchases = db.session.scalar(select(func.count()).select_from(Purchase))
    assert any(line.startswith("demo shoppers: 24 with history already there") for line in demo.seed())
    assert db.session.scalar(select(func.count()).select_from(Purchase)) == purchases

    token = client.post("/api/v1/auth/wechat-login", json={"code": "test-shopper01"}).get_json()["token"]
    ledger = client.get("/api/v1/me/points/ledger", headers=bearer(token)).get_json()
    assert ledger["items"], "a regular has points history"


def test_no_demo_shoppers_without_test_logins(app, at):
    at("2026-03-05T10:00:00+08:00")
    app.config["TEST_LOGINS"] = False
    try:
        lines = demo.seed()
    finally:
        app.config["TEST_LOGINS"] = True
    assert "demo shoppers: skipped (test logins are off outside the demo)" in lines
    assert db.session.scalar(select(func.count()).select_from(Purchase)) == 0
