"""The ledger's self-check as one statement: each kind of drift found with its facts, healthy members left out,
a member with ledger rows and no account, or an account and no ledger, found too."""
from __future__ import annotations

from sqlalchemy import delete, update

from app.extensions import db
from points import ledger
from points.models import LedgerEntry, PointsAccount, PointsLot
from tests.coupons.helpers import members


def _credit(member_id: int, amount: int, key: str) -> None:
    ledger.credit(member_id, amount, kind="grant", key=key, cause_type="test")
    db.session.commit()


def _set(member_id: int, **values) -> None:
    db.session.execute(update(PointsAccount).where(PointsAccount.member_id == member_id).values(**values))
    db.session.commit()


def _facts(ledger_sum=0, available=0, pending=0, debt=0, open_lots=0, pending_lots=0) -> dict:
    return {"ledger_sum": ledger_sum, "account_balance": available + pending - debt, "open_lots": open_lots,
            "available": available, "pending_lots": pending_lots, "pending": pending, "debt": debt}


def test_each_drift_with_its_facts(tiers):
    healthy, cached, pending, debt, no_account, no_ledger = members(6)
    for member_id in (healthy, cached, pending, debt, no_account):
        _credit(member_id, 100, f"v:{member_id}")
    assert ledger.verify() == []
    _set(cached, available=105)
    _set(pending, pending=7)
    _set(debt, debt=3)
    db.session.execute(delete(PointsAccount).where(PointsAccount.member_id == no_account))
    db.session.add(PointsAccount(member_id=no_ledger, available=0, pending=0, debt=4))
    db.session.commit()
    drifts = {d.pop("member_id"): d for d in ledger.verify()}
    assert drifts == {
        cached: {"problems": ["ledger sum != available + pending - debt", "open lots != available"],
                 **_facts(100, available=105, open_lots=100)},
        pending: {"problems": ["ledger sum != available + pending - debt", "pending lots != pending"],
                  **_facts(100, available=100, pending=7, open_lots=100)},
        debt: {"problems": ["ledger sum != available + pending - debt", "debt while points are available"],
               **_facts(100, available=100, debt=3, open_lots=100)},
        no_account: {"problems": ["ledger sum != available + pending - debt", "open lots != available"],
                     **_facts(100, open_lots=100)},
        no_ledger: {"problems": ["ledger sum != available + pending - debt"], **_facts(debt=4)},
    }
    # put everything back: the self-check after the test must pass
    _set(cached, available=100)
    _set(pending, pending=0)
    _set(debt, debt=0)
    db.session.execute(delete(PointsAccount).where(PointsAccount.member_id == no_ledger))
    db.session.add(PointsAccount(member_id=no_account, available=100, pending=0, debt=0))
    db.session.commit()
    assert ledger.verify() == []


def test_closed_lots_do_not_count(tiers):
    (member_id,) = members(1)
    _credit(member_id, 50, "c1")
    db.session.execute(update(PointsLot).where(PointsLot.member_id == member_id).values(state="closed"))
    db.session.commit()
    assert [d["problems"] for d in ledger.verify()] == [["open lots != available"]]
    db.session.execute(update(PointsLot).where(PointsLot.member_id == member_id).values(state="open"))
    db.session.commit()
    assert ledger.verify() == []
    assert db.session.query(LedgerEntry).count() == 1
