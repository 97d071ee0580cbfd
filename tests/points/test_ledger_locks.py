"""The account lock is taken once per transaction: ledger calls under a lock the transaction already holds
reuse it; a new transaction, or a savepoint that rolled back the lock it took, locks again."""
from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from points import ledger as ledger
from tests.sql_capture import statements


def test_the_lock_is_reused_within_its_transaction(shopper, give):
    _, member_id = shopper
    give(member_id, 100)
    with statements() as seen:
        first = ledger.lock_account(member_id)
        assert ledger.lock_account(member_id) is first
    assert len(seen) == 1  # one SELECT ... FOR UPDATE
    ledger.credit(member_id, 5, kind="grant", key="locks:1", cause_type="grant")
    db.session.commit()
    with statements() as seen:
        ledger.lock_account(member_id)
    assert len(seen) == 1  # a new transaction locks again
    db.session.rollback()


def test_a_lock_taken_in_a_rolled_back_savepoint_is_taken_again(shopper, give):
    _, member_id = shopper
    give(member_id, 100)
    with pytest.raises(RuntimeError), db.session.begin_nested():
        ledger.lock_account(member_id)
        raise RuntimeError("undo")
    with statements() as seen:
        account = ledger.lock_account(member_id)
    assert len(seen) == 1 and account.available == 100  # the savepoint's lock went with it: locked again
    db.session.rollback()


def test_new_key_leaves_the_unique_key_to_refuse_a_duplicate(shopper):
    _, member_id = shopper
    ledger.credit(member_id, 5, kind="grant", key="dup:1", cause_type="grant", new_key=True)
    db.session.commit()
    with pytest.raises(IntegrityError):
        ledger.credit(member_id, 5, kind="grant", key="dup:1", cause_type="grant", new_key=True)
    db.session.rollback()
    assert ledger.summary(member_id)["balance"] == 5
