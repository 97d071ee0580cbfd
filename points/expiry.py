"""Set-based points work for the workers: expiring lots, activating pending lots, expiry reminders.

The ledger's own functions (points.ledger) handle one member at a time under that member's row lock.
At a million lots a Python loop per row is far too slow, so the workers do the same moves per keyset batch
in SQL, under the same locking rule: every account the batch touches is locked first, in member id order
(live purchases lock one account, so they simply wait for the batch, and two workers never deadlock), and
the batch then re-reads its lots (state and remaining) after holding those locks. Each batch commits on its
own, so a worker killed mid-way loses at most one uncommitted batch and a re-run finds only what is left.

Expiry uses the business key `lot:<id>`, the same as points.ledger._expire_due_lots: whichever runs first
writes the `expire` row and closes the lot; the other no longer sees an open lot.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import bindparam, select, text, tuple_

from app import clock, events
from app import jobs as job_runtime
from app.db_types import UTCDateTime
from app.extensions import db
from app.sql import custom_plans
from points import ledger as ledger
from points.models import PointsLot

BATCH_SIZE = 5000


def _checkpoint(stage: str, batch: int) -> None:
    """Between the stages of a batch ("written": SQL ran, not committed; "committed"). A no-op here:
    the kill tests replace it to SIGKILL the worker at a precise point."""


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _counts(**values: int) -> dict:
    return {"scanned": 0, "changed": 0, "skipped": 0, "failed": 0, **values}


def _candidates(state: str, time_column, cutoff, after: tuple | None, limit: int, shard: int, shards: int) -> list:
    """The next batch of due lots in (time, id) order, after the last one of the previous batch.

    Keyset on (time, id) walks the index (state, time, id) from where the last batch stopped and needs no
    sort: ordering by id alone made PostgreSQL read and sort every remaining due lot for each batch (0.3 s a
    batch at a million lots) whenever it chose the state index, which it does on fresh statistics."""
    stmt = (select(PointsLot.id, PointsLot.member_id, time_column.label("due_at"))
            .where(PointsLot.state == state, time_column.is_not(None), time_column <= cutoff)
            .order_by(time_column, PointsLot.id).limit(limit))
    if after is not None:
        stmt = stmt.where(tuple_(time_column, PointsLot.id) > tuple_(*after))
    if shards > 1:
        stmt = stmt.where(PointsLot.member_id % shards == shard)
    return list(db.session.execute(stmt))


def _lock_accounts(member_ids: set[int]) -> None:
    """Create missing accounts, then lock them all in member id order (the one order every batch uses)."""
    if _dialect() != "postgresql":
        return  # SQLite has one writer at a time: the batch's write transaction is the lock
    db.session.execute(text(
        "SELECT member_id FROM points_accounts WHERE member_id = ANY(:ids) ORDER BY member_id FOR UPDATE"
    ), {"ids": sorted(member_ids)})


# --- expiry -------------------------------------------------------------------------------------------

_EXPIRE_PG = text("""
WITH due AS (
    SELECT l.id, l.member_id, l.remaining, l.expires_at FROM points_lots l
    WHERE l.id = ANY(:ids) AND l.state = 'open' AND l.expires_at <= :cutoff
), closed AS (
    UPDATE points_lots l SET remaining = 0, state = 'closed' FROM due WHERE l.id = due.id RETURNING l.id
), per_member AS (
    SELECT member_id, sum(remaining) AS total FROM due GROUP BY member_id HAVING sum(remaining) > 0
), accounts AS (
    UPDATE points_accounts a SET available = a.available - p.total, updated_at = :now
    FROM per_member p WHERE a.member_id = p.member_id RETURNING a.member_id
), written AS (
    INSERT INTO points_ledger (member_id, delta, kind, business_key, cause_type, cause_id, balance_after,
                               expires_at, created_at)
    SELECT d.member_id, -d.remaining, 'expire', 'lot:' || d.id, 'lot', CAST(d.id AS VARCHAR),
           a.available + a.pending - a.debt - sum(d.remaining) OVER (PARTITION BY d.member_id ORDER BY d.id),
           d.expires_at, :now
    FROM due d JOIN points_accounts a ON a.member_id = d.member_id
    WHERE d.remaining > 0
    ORDER BY d.id
    ON CONFLICT (kind, business_key) DO NOTHING
    RETURNING id
)
SELECT (SELECT count(*) FROM due) AS due, (SELECT count(*) FROM written) AS written,
       (SELECT count(*) FROM due WHERE remaining > 0) AS wanted
""").bindparams(bindparam("cutoff", type_=UTCDateTime), bindparam("now", type_=UTCDateTime))

# SQLite (embedded mode) has no data-modifying CTEs: the same moves as three set-based statements.
_DUE_SQLITE = "l.id IN :ids AND l.state = 'open' AND l.expires_at <= :cutoff"
_EXPIRE_SQLITE = [
    text(f"""
    INSERT INTO points_ledger (member_id, delta, kind, business_key, cause_type, cause_id, balance_after,
                               expires_at, created_at)
    SELECT l.member_id, -l.remaining, 'expire', 'lot:' || l.id, 'lot', CAST(l.id AS VARCHAR),
           a.available + a.pending - a.debt - sum(l.remaining) OVER (PARTITION BY l.member_id ORDER BY l.id),
           l.expires_at, :now
    FROM points_lots l JOIN points_accounts a ON a.member_id = l.member_id
    WHERE {_DUE_SQLITE} AND l.remaining > 0
    ORDER BY l.id
    ON CONFLICT (kind, business_key) DO NOTHING
    """),
    text(f"""
    UPDATE points_accounts SET available = available - (
        SELECT sum(l.remaining) FROM points_lots l WHERE {_DUE_SQLITE} AND l.member_id = points_accounts.member_id
    ), updated_at = :now
    WHERE member_id IN (SELECT l.member_id FROM points_lots l WHERE {_DUE_SQLITE} AND l.remaining > 0)
    """),
    text(f"UPDATE points_lots SET remaining = 0, state = 'closed' WHERE id IN ("
         f"SELECT l.id FROM points_lots l WHERE {_DUE_SQLITE})"),
]
_EXPIRE_SQLITE = [
    stmt.bindparams(bindparam("ids", expanding=True), bindparam("cutoff", type_=UTCDateTime),
                    *([bindparam("now", type_=UTCDateTime)] if ":now" in stmt.text else []))
    for stmt in _EXPIRE_SQLITE
]


def _expire_batch(lot_ids: list[int], cutoff, now) -> tuple[int, int]:
    """Expire these lots if still open and due; returns (lots closed, expire rows written)."""
    params = {"ids": lot_ids, "cutoff": cutoff, "now": now}
    if _dialect() == "postgresql":
        custom_plans()
        due, written, wanted = db.session.execute(_EXPIRE_PG, params).one()
    else:
        inserted = db.session.execute(_EXPIRE_SQLITE[0], params).rowcount
        wanted = db.session.execute(text(
            f"SELECT count(*) FROM points_lots l WHERE {_DUE_SQLITE} AND l.remaining > 0"
        ).bindparams(bindparam("ids", expanding=True), bindparam("cutoff", type_=UTCDateTime)), params).scalar_one()
        db.session.execute(_EXPIRE_SQLITE[1], params)
        due = db.session.execute(_EXPIRE_SQLITE[2], params).rowcount
        written = inserted
    if written != wanted:  # an open lot already had its expire row: never take points twice
        raise RuntimeError(f"expire rows already present for {wanted - written} open lots; ledger needs a look")
    return due, written


def expire_points_lots(day: date | None = None, shard: int = 0, shards: int = 1,
                       batch_size: int | None = None) -> dict:
    """Expire every open lot whose expiry has passed by the start of business day `day` (default today):
    an `expire` ledger row per lot with points left, the lot closed, the cached balance reduced.
    `shard`/`shards` split the members between parallel workers (member_id % shards)."""
    batch_size = batch_size or BATCH_SIZE
    day = day or clock.business_today()
    cutoff = min(clock.start_of_business_day(day), clock.now())
    counts, after, batch = _counts(), None, 0
    while True:
        rows = _candidates("open", PointsLot.expires_at, cutoff, after, batch_size, shard, shards)
        if not rows:
            break
        batch += 1
        after = (rows[-1].due_at, rows[-1].id)
        _lock_accounts({row.member_id for row in rows})
        closed, written = _expire_batch([row.id for row in rows], cutoff, clock.now())
        if written:
            events.points_expired.send(None, lot_ids=[row.id for row in rows])
        _checkpoint("written", batch)
        db.session.commit()
        _checkpoint("committed", batch)
        counts["scanned"] += len(rows)
        counts["changed"] += written
        counts["skipped"] += len(rows) - closed
        job_runtime.batch_done(counts)
    return counts


# --- activation ---------------------------------------------------------------------------------------

_ACTIVATE_PG = text("""
WITH due AS (
    SELECT l.id, l.member_id, l.remaining FROM points_lots l
    WHERE l.id = ANY(:ids) AND l.state = 'pending' AND l.available_at <= :now
), paid AS (
    SELECT d.id, d.member_id, d.remaining,
           LEAST(d.remaining, GREATEST(a.debt - (sum(d.remaining) OVER w - d.remaining), 0)) AS pay
    FROM due d JOIN points_accounts a ON a.member_id = d.member_id AND a.member_id = ANY(:member_ids)
    WINDOW w AS (PARTITION BY d.member_id ORDER BY d.id)
), lots AS (
    UPDATE points_lots l SET remaining = p.remaining - p.pay,
           state = CASE WHEN p.remaining - p.pay > 0 THEN 'open' ELSE 'closed' END
    FROM paid p WHERE l.id = p.id RETURNING l.id
), per_member AS (
    SELECT member_id, sum(remaining) AS total, sum(pay) AS paid FROM paid GROUP BY member_id
), accounts AS (
    UPDATE points_accounts a SET pending = a.pending - m.total, debt = a.debt - m.paid,
           available = a.available + m.total - m.paid, updated_at = :now
    FROM per_member m WHERE a.member_id = m.member_id RETURNING a.member_id
)
SELECT (SELECT count(*) FROM lots) AS activated
""").bindparams(bindparam("now", type_=UTCDateTime))


def activate_pending_points(batch_size: int | None = None) -> dict:
    """Open every pending lot whose return window has ended; debt is paid from them first, oldest lot
    first, exactly as points.ledger.activate_lot does one lot at a time. No ledger row: the points were
    counted when earned; only their state changes."""
    batch_size = batch_size or BATCH_SIZE
    counts, after = _counts(), None
    while True:
        now = clock.now()
        rows = _candidates("pending", PointsLot.available_at, now, after, batch_size, 0, 1)
        if not rows:
            break
        after = (rows[-1].due_at, rows[-1].id)
        if _dialect() == "postgresql":
            member_ids = sorted({row.member_id for row in rows})
            _lock_accounts(set(member_ids))
            custom_plans()
            activated = db.session.execute(_ACTIVATE_PG, {"ids": [row.id for row in rows], "member_ids": member_ids,
                                                          "now": now}).scalar_one()
        else:  # embedded scale: the ledger's own per-lot function
            activated = sum(1 for row in rows if ledger.activate_lot(row.id))
        db.session.commit()
        counts["scanned"] += len(rows)
        counts["changed"] += activated
        counts["skipped"] += len(rows) - activated
        job_runtime.batch_done(counts)
    return counts
