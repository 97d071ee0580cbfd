"""Commission: what a rule pays on an attributed sale, and the settlement of what has waited out the return
window.

A line takes the most specific active rule for the promoter's level (its SKU, else its category, else the
catch-all; a rule for the level before one for every level). The money paid (after member prices and coupons,
without the part paid with points) is spread over the lines by their totals, each rule's share is paid at its
rate, rounded down, and capped per order.

Settlement moves due commission from pending to the settled balance in batches, set-based: one ledger entry per
promoter per batch (its rows name that entry), one UPDATE for the batch's commission rows. A settled amount
first pays any debt, since a debt is a negative balance.
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from fractions import Fraction

from sqlalchemy import bindparam, select, text

from app import clock
from app.db_types import UTCDateTime
from app.extensions import db
from app.jobs import batch_done, zero_counts
from app.sql import any_of, custom_plans, insert_many
from distribution.models import Commission, Promoter, PromoterEntry

SETTLE_BATCH = 50_000  # rows per transaction: a promoter gets one ledger entry per batch


def _rule_for(rules: Iterable, level_id: int | None, sku: str, category: str | None):
    best, best_rank = None, None
    for rule in rules:
        if rule.level_id is not None and rule.level_id != level_id:
            continue
        if rule.sku:
            if rule.sku != sku:
                continue
            specificity = 2
        elif rule.category:
            if rule.category != category:
                continue
            specificity = 1
        else:
            specificity = 0
        rank = (specificity, rule.level_id is not None, rule.id)
        if best_rank is None or rank > best_rank:
            best, best_rank = rule, rank
    return best


def compute(rules: list, level_id: int | None, paid: int, subtotal: int, lines: Iterable) -> int:
    """The commission (fen) of an order paid `paid` fen whose lines total `subtotal` after member prices."""
    if paid <= 0 or subtotal <= 0:
        return 0
    by_rule: dict[int, tuple[object, int]] = {}
    for line in lines:
        rule = _rule_for(rules, level_id, line.sku, line.category)
        if rule is not None and line.total:
            held = by_rule.get(rule.id, (rule, 0))
            by_rule[rule.id] = (rule, held[1] + line.total)
    total = 0
    for rule, lines_total in by_rule.values():
        value = int(Fraction(paid * lines_total, subtotal) * rule.rate_bp // 10_000)
        if rule.cap_per_order is not None:
            value = min(value, rule.cap_per_order)
        total += value
    return total


# --- settlement -----------------------------------------------------------------------------------------

_promoters = Promoter.__table__
_commissions = Commission.__table__
_DUE = (select(_commissions.c.id, _commissions.c.promoter_id, _commissions.c.settle_at)
        .where(_commissions.c.state == "pending", _commissions.c.settle_at <= bindparam("now"))
        .order_by(_commissions.c.settle_at, _commissions.c.id).limit(bindparam("limit")))
_LOCK = select(_promoters.c.id, _promoters.c.pending, _promoters.c.balance, _promoters.c.frozen).with_for_update()
_SET_BALANCES = {  # the batch's promoters' new balances: one statement
    "postgresql": text(
        "UPDATE distribution_promoters AS p SET pending = b.pending, balance = b.balance "
        "FROM json_to_recordset(CAST(:balances AS json)) AS b(id int, pending int, balance int) WHERE p.id = b.id"),
    "sqlite": text(
        "UPDATE distribution_promoters SET pending = b.pending, balance = b.balance "
        "FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.pending') AS pending, "
        "json_extract(value, '$.balance') AS balance FROM json_each(:balances)) AS b "
        "WHERE distribution_promoters.id = b.id"),
}
_MARK = {  # the batch's rows, settled and naming their promoter's entry: one statement, joined by primary key
    "postgresql": text(
        "UPDATE distribution_commissions AS c SET state = 'settled', settled_at = :now, settle_entry_id = m.entry_id "
        "FROM unnest(CAST(:ids AS integer[]), CAST(:entries AS integer[])) AS m(id, entry_id) "
        "WHERE c.id = m.id AND c.id BETWEEN :low AND :high AND c.state = 'pending'"),
    "sqlite": text(
        "UPDATE distribution_commissions SET state = 'settled', settled_at = :now, settle_entry_id = m.entry_id "
        "FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS entry_id "
        "FROM json_each(:pairs)) AS m WHERE distribution_commissions.id = m.id "
        "AND distribution_commissions.id BETWEEN :low AND :high AND distribution_commissions.state = 'pending'"),
}


def settle_due(now: datetime | None = None, batch_size: int = SETTLE_BATCH) -> dict:
    """Settle every pending commission whose return window has ended (the RQ job). A batch is one
    transaction; a refund racing it waits on the promoter's lock and sees the row settled or not, never half."""
    now = now or clock.now()
    counts = zero_counts()
    dialect = db.session.get_bind().dialect.name
    while True:
        custom_plans()
        due = db.session.execute(_DUE, {"now": now, "limit": batch_size}).all()
        if not due:
            db.session.rollback()
            break
        ids = [row.id for row in due]
        locked = {row.id: row for row in db.session.execute(
            _LOCK.where(any_of(_promoters.c.id, sorted({row.promoter_id for row in due}))).order_by(_promoters.c.id))}
        sums: dict[int, int] = defaultdict(int)
        first: dict[int, int] = {}
        rows: list[tuple[int, int]] = []  # (commission id, promoter id) of the rows still pending
        for row in db.session.execute(select(_commissions.c.id, _commissions.c.promoter_id,
                                             _commissions.c.amount - _commissions.c.reversed)
                                      .where(any_of(_commissions.c.id, ids), _commissions.c.state == "pending")):
            sums[row[1]] += row[2]
            rows.append((row[0], row[1]))
            first[row[1]] = min(first.get(row[1], row[0]), row[0])
        entries, balances = [], []
        for promoter_id, value in sums.items():
            if not value:  # rows of zero commission (attributed, no rule matched) settle without an entry
                continue
            held = locked[promoter_id]
            pending, balance = held.pending - value, held.balance + value
            entries.append({"promoter_id": promoter_id, "kind": "settle", "key": f"settle:{first[promoter_id]}",
                            "pending_delta": -value, "balance_delta": value, "frozen_delta": 0,
                            "pending_after": pending, "balance_after": balance, "frozen_after": held.frozen,
                            "cause_type": "settlement", "cause_id": first[promoter_id], "created_at": now})
            balances.append({"id": promoter_id, "pending": pending, "balance": balance})
        written = insert_many(PromoterEntry.__table__, entries, returning=("id", "promoter_id"))
        entry_of = {pid: entry_id for entry_id, pid in written}
        now_param = UTCDateTime().process_bind_param(now, db.session.get_bind().dialect)
        if dialect == "postgresql":
            params = {"ids": [row[0] for row in rows], "entries": [entry_of.get(row[1]) for row in rows]}
        else:
            params = {"pairs": json.dumps([[row[0], entry_of.get(row[1])] for row in rows])}
        # the id range lets the planner read the batch by primary key, not scan the table for a hash join
        db.session.execute(_MARK[dialect], {"now": now_param, "low": min(ids), "high": max(ids), **params})
        if balances:
            db.session.execute(_SET_BALANCES[dialect], {"balances": json.dumps(balances)})
        db.session.commit()
        counts["scanned"] += len(due)
        counts["changed"] += len(rows)
        counts["skipped"] += len(due) - len(rows)
        batch_done(counts)
    return counts
