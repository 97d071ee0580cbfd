"""Ledger core fixes found while building the till."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.errors import NotFound
from app.extensions import db
from points import service as ledger
from points.models import LedgerEntry


def test_unknown_member_is_not_found_and_leaves_the_transaction_usable(shopper):
    _, member_id = shopper
    ledger.credit(member_id, 10, kind="grant", key="core:1", cause_type="grant")
    with pytest.raises(NotFound):
        ledger.credit(987654, 10, kind="grant", key="core:2", cause_type="grant")
    db.session.commit()  # the first credit survives: the failed insert only rolled back its savepoint
    assert [e.business_key for e in db.session.scalars(select(LedgerEntry))] == ["core:1"]
    assert ledger.summary(member_id)["balance"] == 10
