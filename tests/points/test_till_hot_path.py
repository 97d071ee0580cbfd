"""What keeps the till's CPU per purchase down (bench/purchase_cpu.py), each shown to hold on both databases."""
from __future__ import annotations

import pytest
from sqlalchemy import event, text

from app.extensions import db
from tests.conftest import ON_POSTGRES


@pytest.fixture
def transaction_ends():
    """The COMMITs and ROLLBACKs the engine's connections send while the test runs."""
    ends: list[str] = []
    listeners = [("commit", lambda conn: ends.append("commit")), ("rollback", lambda conn: ends.append("rollback"))]
    for name, listener in listeners:
        event.listen(db.engine, name, listener)
    yield ends
    for name, listener in listeners:
        event.remove(db.engine, name, listener)


def _quote(client, staff, member_id: int):
    response = client.post("/api/v1/pos/quote", headers=staff, json={
        "member_id": member_id, "items": [{"sku": "LATTE", "qty": 2}, {"sku": "CAKE", "qty": 1}]})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_quote_ends_its_transaction_with_a_commit(client, staff, shopper, transaction_ends):
    """psycopg 3 deallocates every prepared statement on ROLLBACK: a quote before each purchase cost the
    purchase its prepared statements (a read-only transaction committed ends the same way)."""
    _, member_id = shopper
    _quote(client, staff, member_id)
    assert transaction_ends == ["commit"]


@pytest.mark.postgres(reason="prepared statements are psycopg's and PostgreSQL's")
def test_statements_stay_prepared_across_quotes(client, staff, shopper):
    _, member_id = shopper
    for _ in range(7):  # psycopg prepares a statement at its sixth execution
        _quote(client, staff, member_id)
    prepared = db.session.scalar(text("SELECT count(*) FROM pg_prepared_statements"))
    assert ON_POSTGRES and prepared > 0


def test_a_read_only_end_refuses_a_changed_object(shopper):
    from app import transactions
    from members.models import Member

    _, member_id = shopper
    db.session.get(Member, member_id).nickname = "changed"
    with pytest.raises(RuntimeError):
        transactions.end_read_only()
    assert db.session.get(Member, member_id).nickname != "changed"
