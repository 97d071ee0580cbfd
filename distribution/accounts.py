"""A promoter's money: the locked promoter row holds the cached balances, and every change writes one ledger
entry with its deltas and the balances after, idempotent by its key. `verify` proves the cache against the
ledger and against the rows the balances stand for (pending commission, open withdrawals).

Lock order: a shopper's points account (the till holds it) before any promoter row, promoter rows by id.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, insert, select

from app import clock
from app.extensions import db
from app.sql import any_of
from distribution.models import Commission, Promoter, PromoterEntry, Withdrawal

_ENTRIES = PromoterEntry.__table__
OPEN_WITHDRAWALS = ("awaiting_approval", "processing")


def lock(promoter_ids: Iterable[int]) -> dict[int, Promoter]:
    """The promoters' rows, locked until the transaction ends, taken in id order (no deadlock between two
    transactions locking overlapping sets)."""
    ids = sorted(set(promoter_ids))
    if not ids:
        return {}
    rows = db.session.scalars(select(Promoter).where(any_of(Promoter.id, ids)).order_by(Promoter.id)
                              .with_for_update().execution_options(populate_existing=True))
    return {row.id: row for row in rows}


def entry_exists(key: str) -> bool:
    return db.session.scalar(select(PromoterEntry.id).where(PromoterEntry.key == key)) is not None


def move(promoter: Promoter, kind: str, key: str, cause_type: str, cause_id: int | None, *, pending: int = 0,
         balance: int = 0, frozen: int = 0, withdrawn: int = 0) -> int:
    """Apply the deltas to the locked promoter and append their entry; returns the entry id. The caller checked
    the key is new under the lock (the unique key still refuses a twin)."""
    promoter.pending += pending
    promoter.balance += balance
    promoter.frozen += frozen
    promoter.withdrawn += withdrawn
    return db.session.execute(insert(_ENTRIES).returning(_ENTRIES.c.id), dict(
        promoter_id=promoter.id, kind=kind, key=key, pending_delta=pending, balance_delta=balance,
        frozen_delta=frozen, pending_after=promoter.pending, balance_after=promoter.balance,
        frozen_after=promoter.frozen, cause_type=cause_type, cause_id=cause_id, created_at=clock.now(),
    )).scalar_one()


def verify() -> list[dict]:
    """Every promoter whose cached balances disagree with the ledger, with their last entry, with the pending
    commission or with the open withdrawals (empty = healthy)."""
    sums = {row[0]: row[1:] for row in db.session.execute(
        select(PromoterEntry.promoter_id, func.sum(PromoterEntry.pending_delta), func.sum(PromoterEntry.balance_delta),
               func.sum(PromoterEntry.frozen_delta), func.max(PromoterEntry.id)).group_by(PromoterEntry.promoter_id))}
    last = {row.promoter_id: row for row in db.session.scalars(
        select(PromoterEntry).where(PromoterEntry.id.in_([s[3] for s in sums.values()])))} if sums else {}
    pending = dict(db.session.execute(
        select(Commission.promoter_id, func.sum(Commission.amount - Commission.reversed))
        .where(Commission.state == "pending").group_by(Commission.promoter_id)).all())
    frozen = dict(db.session.execute(
        select(Withdrawal.promoter_id, func.sum(Withdrawal.amount)).where(Withdrawal.state.in_(OPEN_WITHDRAWALS))
        .group_by(Withdrawal.promoter_id)).all())
    paid = dict(db.session.execute(
        select(Withdrawal.promoter_id, func.sum(Withdrawal.amount)).where(Withdrawal.state == "paid")
        .group_by(Withdrawal.promoter_id)).all())
    drifts = []
    for promoter in db.session.scalars(select(Promoter).order_by(Promoter.id)):
        ledger = sums.get(promoter.id, (0, 0, 0, None))
        facts = {"pending": promoter.pending, "balance": promoter.balance, "frozen": promoter.frozen,
                 "withdrawn": promoter.withdrawn, "ledger": [int(value or 0) for value in ledger[:3]],
                 "pending_commission": int(pending.get(promoter.id) or 0),
                 "open_withdrawals": int(frozen.get(promoter.id) or 0),
                 "paid_withdrawals": int(paid.get(promoter.id) or 0)}
        problems = []
        if facts["ledger"] != [promoter.pending, promoter.balance, promoter.frozen]:
            problems.append("ledger sums != pending, balance, frozen")
        entry = last.get(promoter.id)
        if entry is not None and (entry.pending_after, entry.balance_after, entry.frozen_after) != (
                promoter.pending, promoter.balance, promoter.frozen):
            problems.append("last entry's balances != the promoter's")
        if facts["pending_commission"] != promoter.pending:
            problems.append("pending commission rows != pending")
        if facts["open_withdrawals"] != promoter.frozen:
            problems.append("open withdrawals != frozen")
        if facts["paid_withdrawals"] != promoter.withdrawn:
            problems.append("paid withdrawals != withdrawn")
        if problems:
            drifts.append({"promoter_id": promoter.id, "problems": problems, **facts})
    return drifts
