"""The till's Core writes name every column they must: a column added to a model and forgotten by a fast
path fails here instead of being silently left at its default (app/fast_writes.py)."""
from __future__ import annotations

from app import fast_writes
from members.models import Member
from points import ledger
from points.models import LedgerEntry, PointsAccount, PointsLot
from tasks import service as tasks_service
from tasks.models import TaskCompletion
from tiers import growth


def _columns(model) -> set[str]:
    return {column.key for column in model.__table__.columns}


def test_an_account_save_writes_every_balance_column():
    assert set(ledger.BALANCES) == _columns(PointsAccount) - {"member_id"}


def test_inserts_carry_every_column_but_the_generated_key():
    assert set(fast_writes.insert_columns(LedgerEntry.__table__)) == _columns(LedgerEntry) - {"id"}
    assert set(fast_writes.insert_columns(PointsLot.__table__)) == _columns(PointsLot) - {"id"}
    assert set(tasks_service._COMPLETION_COLUMNS) == _columns(TaskCompletion) - {"id"}


def test_the_growth_update_returns_what_the_session_is_told():
    returned = [column.key for column in growth._GROW.exported_columns]
    assert list(growth.GROWN) == returned and set(growth.GROWN) <= _columns(Member)
