"""Settle 1,000,000 pending commission rows of 10,000 promoters whose return window has ended; print the figures.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<scratch db> BENCH_REDIS_URL=redis://127.0.0.1:6379/3 \\
      .venv/bin/python bench/distribution_settle.py [--rows 1000000] [--promoters 10000]

It drops and recreates every table of that database (never point it at data you keep). The rows are seeded in
SQL with foreign-key checks off for the seed only (session_replication_role = replica): a commission names a
purchase and a buyer, which this bench does not need to exist. Figures printed: the job (`settle_due`, one
process) in wall seconds, this process's CPU and its PostgreSQL backend's CPU (read from /proc: the server runs
on this machine); then the ceiling, one plain UPDATE marking the same rows settled with no ledger, no balances
and no locks. Not a test: it asserts only that the ledger agrees with the balances afterwards.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402


def backend_cpu(db) -> float:
    """CPU seconds (user + system) of this session's PostgreSQL backend so far."""
    pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def seed(db, rows: int, promoters: int, settle_at) -> None:
    session = db.session
    session.execute(text("SET session_replication_role = replica"))
    session.execute(text("""
        INSERT INTO distribution_promoters (id, member_id, code, state, source, pending, balance, frozen, withdrawn,
                                            fans, gmv, created_at)
        SELECT i, i, 'P' || i, 'active', 'granted', 0, 0, 0, 0, 0, 0, now() FROM generate_series(1, :n) AS i"""),
                    {"n": promoters})
    session.execute(text("""
        INSERT INTO distribution_commissions (id, purchase_id, promoter_id, buyer_id, depth, base, amount, reversed,
                                              state, settle_at, created_at)
        SELECT n, n, (n - 1) % :promoters + 1, n, 1, 10000, 1000, 0, 'pending', :settle_at, now()
        FROM generate_series(1, :rows) AS n"""), {"rows": rows, "promoters": promoters, "settle_at": settle_at})
    session.execute(text("""
        INSERT INTO distribution_ledger (promoter_id, kind, key, pending_delta, balance_delta, frozen_delta,
                                         pending_after, balance_after, frozen_after, cause_type, cause_id, created_at)
        SELECT promoter_id, 'accrue', 'bench-accrue:' || promoter_id, sum(amount), 0, 0, sum(amount), 0, 0,
               'purchase', NULL, now() FROM distribution_commissions GROUP BY promoter_id"""))
    session.execute(text("""
        UPDATE distribution_promoters p SET pending = s.total
        FROM (SELECT promoter_id, sum(amount) AS total FROM distribution_commissions GROUP BY promoter_id) s
        WHERE p.id = s.promoter_id"""))
    for table in ("distribution_promoters", "distribution_commissions"):
        session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    session.execute(text("SET session_replication_role = origin"))
    session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as raw:
        raw.execute(text("VACUUM ANALYZE"))


def reset(db) -> None:
    db.session.remove()
    db.drop_all()
    db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
    db.session.commit()
    db.create_all()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--promoters", type=int, default=10_000)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/h_dist")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
    os.environ.update({"DATABASE_URL": url, "REDIS_URL": redis_url, "APP_MODE": "embedded",
                       "DEMO_DIR": "/tmp/bench_distribution"})

    from datetime import timedelta

    from app import clock
    from app.extensions import db
    from distribution import accounts, commission
    from server import create_app

    app = create_app()
    with app.app_context():
        now = clock.now()
        reset(db)
        started = time.perf_counter()
        seed(db, args.rows, args.promoters, now - timedelta(hours=1))
        print(f"seeded {args.rows:,} pending commission rows of {args.promoters:,} promoters "
              f"in {time.perf_counter() - started:.1f} s")

        pg_before, cpu_before, started = backend_cpu(db), time.process_time(), time.perf_counter()
        counts = commission.settle_due(now)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_before
        pg = backend_cpu(db) - pg_before
        assert counts["changed"] == args.rows, counts
        drifts = accounts.verify()
        assert drifts == [], drifts[:3]
        print(f"settle_due, 1 process: {args.rows:,} rows in {wall:.1f} s wall ({args.rows / wall:,.0f} rows/s); "
              f"CPU: app {cpu:.1f} s, PostgreSQL backend {pg:.1f} s (target < 60 s)")

        db.session.execute(text("UPDATE distribution_commissions SET state = 'pending', settled_at = NULL, "
                                "settle_entry_id = NULL"))
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as raw:
            raw.execute(text("VACUUM ANALYZE distribution_commissions"))
        pg_before, started = backend_cpu(db), time.perf_counter()
        marked = db.session.execute(text(
            "UPDATE distribution_commissions SET state = 'settled', settled_at = now() "
            "WHERE state = 'pending' AND settle_at <= now()")).rowcount
        db.session.commit()
        ceiling, pg = time.perf_counter() - started, backend_cpu(db) - pg_before
        print(f"ceiling, one plain UPDATE of {marked:,} rows: {ceiling:.1f} s wall, PostgreSQL backend {pg:.1f} s; "
              f"the job runs at {ceiling / wall:.0%} of it")
        reset(db)


if __name__ == "__main__":
    main()
