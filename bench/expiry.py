"""Expire 1,000,000 open lots of 200,000 members, all due today, with 2 RQ workers; print the figures.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test_workers \\
    BENCH_REDIS_URL=redis://127.0.0.1:6379/5 /work/main/.venv/bin/python bench/expiry.py [--lots 1000000]

It drops and recreates every table of that database (never point it at data you keep). Figures printed:
the job (two `rq worker --burst` processes, one shard of the members each) in seconds and rows/s; then
the ceiling, one plain SQL UPDATE closing the same rows with no ledger, no accounts, no locks; then the
set-based activation of the same number of pending lots (one worker). Not a test: it asserts only that the
ledger is consistent afterwards.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402


def seed(db, members: int, lots: int, expires_at, state: str, available_at) -> None:
    """Members, accounts and one credit row + one lot per point batch, all in SQL."""
    per_member = lots // members
    conn = db.session
    conn.execute(text("""
        INSERT INTO members (id, invite_code, gender, growth, created_at)
        SELECT i, 'B' || i, 0, 0, now() FROM generate_series(1, :members) AS i"""), {"members": members})
    conn.execute(text("""
        INSERT INTO points_ledger (id, member_id, delta, kind, business_key, cause_type, balance_after, expires_at,
                                   created_at)
        SELECT n, (n - 1) % :members + 1, 10, 'grant', 'bench:' || n, 'bench', ((n - 1) / :members + 1) * 10,
               :expires_at, now()
        FROM generate_series(1, :lots) AS n"""), {"members": members, "lots": members * per_member,
                                                  "expires_at": expires_at})
    conn.execute(text("""
        INSERT INTO points_lots (id, member_id, entry_id, amount, remaining, state, available_at, expires_at,
                                 created_at)
        SELECT id, member_id, id, 10, 10, :state, :available_at, :expires_at, now() FROM points_ledger"""),
                 {"state": state, "available_at": available_at, "expires_at": expires_at})
    column = "available" if state == "open" else "pending"
    conn.execute(text("""
        INSERT INTO points_accounts (member_id, available, pending, debt, updated_at)
        SELECT member_id, 0, 0, 0, now() FROM points_lots GROUP BY member_id"""))
    conn.execute(text(f"""
        UPDATE points_accounts a SET {column} = s.total
        FROM (SELECT member_id, sum(remaining) AS total FROM points_lots GROUP BY member_id) s
        WHERE a.member_id = s.member_id"""))
    for table in ("members", "points_ledger", "points_lots"):
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as raw:
        raw.execute(text("VACUUM ANALYZE"))


def reset(db) -> None:
    db.session.remove()
    db.drop_all()
    db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
    db.session.commit()
    db.create_all()


def check(db, lots: int) -> None:
    expired, left = db.session.execute(text(
        "SELECT (SELECT count(*) FROM points_ledger WHERE kind = 'expire'), "
        "(SELECT coalesce(sum(available), 0) FROM points_accounts)")).one()
    assert (expired, left) == (lots, 0), (expired, left)
    drift = db.session.execute(text("""
        SELECT count(*) FROM points_accounts a JOIN (SELECT member_id, sum(delta) AS total FROM points_ledger
        GROUP BY member_id) l ON l.member_id = a.member_id
        WHERE l.total <> a.available + a.pending - a.debt""")).scalar()
    assert drift == 0, drift


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--lots", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test_workers")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "APP_MODE": "embedded",
           "DEMO_DIR": "/tmp/bench_workers"}
    os.environ.update(env)

    from app import clock
    from app import jobs as job_runtime
    from app.extensions import db
    from app.redis_store import get_redis
    from points import expiry
    from server import create_app

    app = create_app()
    with app.app_context():
        today = clock.business_today()
        due_at = clock.start_of_business_day(today)  # lots whose last day was yesterday: due today
        reset(db)
        get_redis().flushdb()
        started = time.perf_counter()
        seed(db, args.members, args.lots, due_at, "open", due_at - timedelta(days=300))
        print(f"seeded {args.lots:,} open lots of {args.members:,} members in {time.perf_counter() - started:.1f} s")

        for shard in range(args.workers):
            job_runtime.enqueue("expire_points_lots", suffix=f"-s{shard}", shard=shard, shards=args.workers)
        rq = str(Path(sys.executable).parent / "rq")
        started = time.perf_counter()
        command = [rq, "worker", "-w", "server.worker.Worker", "--burst", "--quiet", "--url", redis_url, "expiry"]
        workers = [subprocess.Popen(command, cwd=ROOT, env=env) for _ in range(args.workers)]
        for worker in workers:
            worker.wait()
        job_seconds = time.perf_counter() - started
        db.session.remove()
        check(db, args.lots)
        runs = db.session.execute(text("SELECT job, state, changed FROM job_runs ORDER BY id")).all()
        print(f"expiry job, {args.workers} rq workers: {job_seconds:.1f} s, {args.lots / job_seconds:,.0f} rows/s "
              f"(runs: {[tuple(r) for r in runs]})")

        db.session.execute(text("DELETE FROM points_ledger WHERE kind = 'expire'"))
        db.session.execute(text("UPDATE points_lots SET state = 'open', remaining = amount"))
        db.session.execute(text("UPDATE points_accounts SET available = 10 * (SELECT count(*) FROM points_lots l "
                                "WHERE l.member_id = points_accounts.member_id)"))
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as raw:
            raw.execute(text("VACUUM ANALYZE points_lots"))
        started = time.perf_counter()
        closed = db.session.execute(text(
            "UPDATE points_lots SET state = 'closed', remaining = 0 WHERE state = 'open' AND expires_at <= :cutoff"),
            {"cutoff": due_at}).rowcount
        db.session.commit()
        ceiling = time.perf_counter() - started
        print(f"ceiling, one plain UPDATE of {closed:,} lots: {ceiling:.1f} s, {closed / ceiling:,.0f} rows/s; "
              f"the job runs at {ceiling / job_seconds:.0%} of it")

        reset(db)
        seed(db, args.members, args.lots, due_at + timedelta(days=365), "pending", due_at - timedelta(days=1))
        started = time.perf_counter()
        counts = expiry.activate_pending_points()
        seconds = time.perf_counter() - started
        print(f"activation, 1 process: {counts['changed']:,} pending lots in {seconds:.1f} s, "
              f"{counts['changed'] / seconds:,.0f} rows/s")
        reset(db)


if __name__ == "__main__":
    main()
