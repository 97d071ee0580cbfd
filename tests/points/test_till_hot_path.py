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


def test_a_member_and_their_account_are_locked_in_one_statement(shopper, give):
    from points import ledger
    from tests.sql_capture import statements

    _, member_id = shopper
    give(member_id, 30)
    with statements() as seen:
        member, account = ledger.lock_member_account(member_id)
        assert ledger.lock_account(member_id) is account  # the lock is held: no second statement
    assert len(seen) == 1 and member.id == member_id and account.available == 30
    db.session.rollback()


def test_a_member_without_an_account_gets_one_and_an_unknown_member_is_404(shopper):
    from app.errors import NotFound
    from points import ledger
    from points.models import PointsAccount

    _, member_id = shopper
    db.session.execute(db.delete(PointsAccount).where(PointsAccount.member_id == member_id))
    db.session.commit()
    member, account = ledger.lock_member_account(member_id)
    assert member.id == member_id and account.available == 0
    db.session.commit()
    with pytest.raises(NotFound):
        ledger.lock_member_account(member_id + 1000)
    db.session.rollback()


def test_a_repeat_purchase_by_member_id_sends_twelve_statements(client, staff, shopper, buy):
    """The statements of a repeat purchase, counted so that a new one is a decision: the configuration token
    (it also answers the operator's check), the member with their account locked, the stored answer, the
    purchase, its lines, its ledger entry, lot and account, growth (and the purchase count), the growth log
    row, the "points credited" message and the purchase's answer. (An earn rule with a cap adds its use.)"""
    from tests.sql_capture import statements

    _, member_id = shopper
    assert buy(member_id, [("LATTE", 1)]).status_code == 201
    body = {"member_id": member_id, "items": [{"sku": "LATTE", "qty": 1}, {"sku": "CAKE", "qty": 2}]}
    paid = client.post("/api/v1/pos/quote", headers=staff, json=body).get_json()["payable"]
    with statements() as seen:
        response = client.post("/api/v1/pos/purchases", headers=staff, json={**body, "order_no": "R2", "paid": paid})
    assert response.status_code == 201, response.get_json()
    assert len(seen) == 12, "\n".join(seen)
