"""Benchmark (prints figures, asserts nothing): the report summary at scale on PostgreSQL, from rollups.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test_reports \\
    BENCH_REDIS_URL=redis://127.0.0.1:6379/6 \\
    .venv/bin/python bench/reports.py --members 1000000 --ledger 10000000

Builds the schema from the models (DROPS every table of that database first), loads members, purchases,
refunds and ledger rows with generate_series over the last 365 days, rolls up every closed day with
`rollup_daily`, then times the summary (service and HTTP) for 30, 90 and 366-day ranges, today live
included, plus the daily report and the lifecycle and RFM jobs. `--keep` leaves the data in place.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from app import clock  # noqa: E402
from app.extensions import db  # noqa: E402
from config import database_url  # noqa: E402
from server import create_app


def timed(label: str, func, repeat: int = 1):
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = func()
        samples.append((time.perf_counter() - started) * 1000)
    if repeat == 1:
        print(f"{label:<52} {samples[0]:>10.1f} ms")
    else:
        print(f"{label:<52} median {statistics.median(samples):>8.1f} ms  max {max(samples):>8.1f} ms  (n={repeat})")
    return result


def load(members: int, ledger: int) -> None:
    """Bulk rows in SQL: purchases ~ 30% of the ledger (each with an earn row), the rest grants, spends,
    expiries, adjustments and reversals spread over the last 365 days."""
    purchases = ledger * 3 // 10
    others = ledger - purchases
    now = clock.now()
    params = {"now": now, "t0": now - timedelta(days=365), "m0": now - timedelta(days=730)}
    statements = [
        "INSERT INTO stores (id, code, name, active, created_at) VALUES (1, 'S1', 'Store 1', true, :now)",
        "INSERT INTO tiers (id, code, name, rank, growth_threshold, retention_threshold, benefits, created_at,"
        " updated_at) VALUES (1,'normal','普通',0,0,0,'{}',:now,:now),(2,'silver','高级',1,1000,500,'{}',:now,:now),"
        " (3,'gold','尊享',2,5000,2500,'{}',:now,:now)",
        f"""INSERT INTO members (id, invite_code, tier_id, growth, gender, created_at, invited_by_id, birthday,
                source_channel)
            SELECT g, 'B' || g, 1 + (g % 10 = 0)::int + (g % 50 = 0)::int, 0, 0,
                   :m0 + (g::float / {members}) * interval '730 days',
                   CASE WHEN g % 7 = 0 AND g > 100 THEN g - 1 - (g % 97) END,
                   CASE WHEN g % 3 = 0 THEN date '1990-01-01' + (g % 365) END,
                   CASE WHEN g % 4 = 0 THEN 'qr_store' END
            FROM generate_series(1, {members}) g""",
        f"""INSERT INTO purchases (id, store_id, order_no, member_id, request_hash, subtotal, coupon_discount,
                points_used, points_value, paid, points_earned, growth_added, refunded_amount, created_at)
            SELECT g, 1, 'O' || g, 1 + (hashint % {members}), 'h', paid, 0, 0, 0, paid, paid / 100, paid / 100, 0,
                   :t0 + ((g::float / {purchases}) * 365 + (random() - 0.5) / 24) * interval '1 day'
            FROM (SELECT g, abs(hashtext(g::text)) AS hashint, 1000 + (random() * 20000)::int AS paid
                  FROM generate_series(1, {purchases}) g) s""",
        """INSERT INTO refunds (store_id, purchase_id, refund_no, amount, request_hash, points_reversed,
                points_returned, growth_removed, created_at)
            SELECT 1, p.id, 'R' || p.id, p.paid / 2, 'h', 0, 0, 0, p.created_at + interval '2 days'
            FROM purchases p WHERE p.id % 50 = 0 AND p.created_at + interval '2 days' < :now""",
        """INSERT INTO points_ledger (member_id, delta, kind, business_key, cause_type, cause_id, balance_after,
                created_at)
            SELECT member_id, points_earned, 'earn', 'purchase:' || id, 'purchase', id::text, 0, created_at
            FROM purchases""",
        f"""INSERT INTO points_ledger (member_id, delta, kind, business_key, cause_type, balance_after, created_at)
            SELECT 1 + (abs(hashtext('m' || g)) % {members}),
                   CASE k WHEN 'grant' THEN 50 WHEN 'adjust' THEN 20 ELSE -(1 + g % 40) END,
                   k, 'b' || g, 'bench', 0,
                   :t0 + ((g::float / {others}) * 365) * interval '1 day'
            FROM (SELECT g, (ARRAY['grant','spend','spend','expire','adjust','reverse','grant','spend'])[1 + g % 8] k
                  FROM generate_series(1, {others}) g) s""",
    ]
    for statement in statements:
        first = " ".join(statement.split()[:3])
        timed(f"load: {first}", lambda s=statement: (db.session.execute(text(s), params), db.session.commit()))
    for table in ("members", "purchases", "refunds", "points_ledger"):
        db.session.execute(text(f"ANALYZE {table}"))
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--ledger", type=int, default=10_000_000)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="time the reports on the data a --keep run left")
    parser.add_argument("--skip-jobs", action="store_true", help="do not time the lifecycle / RFM / KOC jobs")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        raise SystemExit("set BENCH_DATABASE_URL to a PostgreSQL database you may wipe")
    app = create_app("test", {"SQLALCHEMY_DATABASE_URI": database_url(url),
                              "REDIS_URL": os.environ.get("BENCH_REDIS_URL"),
                              "DEMO_DIR": "/tmp/bench_reports"})
    with app.app_context():
        from app.operators import service as operators
        from marketing import segments
        from reports import rollups, summary

        if not args.reuse:
            db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
            db.session.commit()
            db.drop_all()
            db.create_all()
            print(f"members {args.members:,}  ledger rows {args.ledger:,}")
            load(args.members, args.ledger)
        counts = db.session.execute(text(
            "SELECT (SELECT count(*) FROM members), (SELECT count(*) FROM purchases), (SELECT count(*) FROM refunds),"
            " (SELECT count(*) FROM points_ledger)")).one()
        print(f"rows: members {counts[0]:,}  purchases {counts[1]:,}  refunds {counts[2]:,}  ledger {counts[3]:,}")

        today = clock.business_today()
        first_day = today - timedelta(days=365)
        if not args.reuse:
            started = time.perf_counter()
            rollups.rollup_range(first_day, today - timedelta(days=1))
            elapsed = time.perf_counter() - started
            label = "rollup_daily x 365 days (backfill)"
            print(f"{label:<52} {elapsed * 1000:>10.1f} ms  ({elapsed / 365 * 1000:.0f} ms/day)")
        timed("rollup_daily (one day again, idempotent)", lambda: rollups.rollup_daily(today - timedelta(days=1)))
        db.session.execute(text("ANALYZE report_daily; ANALYZE report_buyers; ANALYZE report_daily_tiers"))
        db.session.commit()

        for days in (30, 90, 366):
            timed(f"summary service, {days} days (today live)",
                  lambda d=days: summary.summary(today - timedelta(days=d - 1), today), repeat=5)
        timed("summary service, 365 days ending yesterday (no live day)",
              lambda: summary.summary(today - timedelta(days=365), today - timedelta(days=1)), repeat=5)
        timed("daily report service, 90 days", lambda: summary.daily(today - timedelta(days=89), today), repeat=5)

        if not args.reuse:
            operators.create_operator("bench_marketing", "password123", "marketing", None)
        client = app.test_client()
        token = client.post("/api/v1/auth/operator-login",
                            json={"username": "bench_marketing", "password": "password123"}).get_json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        for days in (30, 366):
            query = f"from={(today - timedelta(days=days - 1)).isoformat()}&to={today.isoformat()}"

            def call(q=query):
                response = client.get(f"/api/v1/admin/reports/summary?{q}", headers=headers)
                assert response.status_code == 200, response.get_json()
                return response.get_json()

            body = timed(f"GET /admin/reports/summary, {days} days", call, repeat=5)
        print(f"  366-day summary: members {body['members']}, purchases {body['purchases']['count']:,}, "
              f"active {body['active_members']:,}, outstanding {body['points']['outstanding']:,}")

        if not args.skip_jobs:
            timed("recompute_lifecycle (1 job run, all members)", segments.recompute_lifecycle)
            timed("compute_rfm (1 job run, all buyers)", segments.compute_rfm)
            timed("compute_koc (1 job run)", segments.compute_koc)
        timed("GET /admin/reports/super-users", lambda: client.get("/api/v1/admin/reports/super-users",
                                                                    headers=headers), repeat=5)
        timed("GET /admin/reports/rfm", lambda: client.get("/api/v1/admin/reports/rfm", headers=headers), repeat=5)
        if not args.keep:
            db.session.remove()
            db.drop_all()


if __name__ == "__main__":
    main()
