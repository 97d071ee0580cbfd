"""Ledger core fixes found while building the till."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.errors import NotFound
from app.extensions import db
from points import ledger as ledger
from points.models import LedgerEntry


def test_unknown_member_is_not_found_and_leaves_the_transaction_usable(shopper):
    _, member_id = shopper
    ledger.credit(member_id, 10, kind="grant", key="core:1", cause_type="grant")
    with pytest.raises(NotFound):
        ledger.credit(987654, 10, kind="grant", key="core:2", cause_type="grant")
    db.session.commit()  # the first credit survives: the failed insert only rolled back its savepoint
    assert [e.business_key for e in db.session.scalars(select(LedgerEntry))] == ["core:1"]
    assert ledger.summary(member_id)["balance"] == 10


def test_me_shows_points_expiring_within_30_days_and_when(client, login, at):
    from datetime import timedelta

    from app import clock
    from tests.conftest import bearer

    at("2026-03-01T10:00:00+08:00")
    token, member_id = login()
    soon = clock.end_of_business_day(clock.business_today() + timedelta(days=10))
    ledger.credit(member_id, 70, kind="grant", key="soon", cause_type="test", expires_at=soon)
    ledger.credit(member_id, 30, kind="grant", key="later", cause_type="test",
                  expires_at=clock.end_of_business_day(clock.business_today() + timedelta(days=100)))
    ledger.credit(member_id, 5, kind="grant", key="edge", cause_type="test",
                  expires_at=clock.end_of_business_day(clock.business_today() + timedelta(days=31)))
    db.session.commit()
    points = client.get("/api/v1/me", headers=bearer(token)).get_json()["points"]
    assert (points["balance"], points["expiring_soon"]) == (105, 70)
    assert points["expiring_soon_at"] == soon.isoformat()
