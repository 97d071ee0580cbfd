"""Benchmark (prints figures, asserts nothing): the marketing console's pages against the API calls they are
made of, in CPU time (this process, and the PostgreSQL backend that served it), on bench/reports.py's data.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<scratch db> BENCH_REDIS_URL=redis://127.0.0.1:6379/1 \\
    .venv/bin/python bench/console_pages.py --members 100000 --ledger 1000000

Wipes that database, loads it with bench/reports.py's `load` (members over two years, purchases, refunds and
ledger rows over the last 365 days), rolls up the last 30 closed days and computes lifecycle, RFM and KOC.
Then, for each page, the floor is the JSON API calls that return the same figures (the dashboard reads the
summary for today and for 30 days, the daily report, the lifecycle counts, the RFM report and the super users),
so the page's own cost is the difference: rendering, never a second computation.
The PostgreSQL backend's CPU is read from /proc (the server must run on this machine).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from app import clock  # noqa: E402
from app.extensions import db  # noqa: E402
from config import database_url  # noqa: E402
from server import create_app  # noqa: E402

REPEAT = 7
TICK = os.sysconf("SC_CLK_TCK")


def _reports_bench():
    """bench/reports.py (its name is the reports package's, so it is loaded by path)."""
    spec = importlib.util.spec_from_file_location("bench_reports", Path(__file__).with_name("reports.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def backend_cpu() -> float:
    """CPU seconds the PostgreSQL backends of this process's pool have used (user + system)."""
    pids = {row[0] for row in db.session.execute(text(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " UNION SELECT pg_backend_pid()"))}
    db.session.commit()
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def measure(label: str, calls) -> tuple[float, float]:
    """Median CPU (process, backend) in ms of running every call once, REPEAT times."""
    own, server = [], []
    for _ in range(REPEAT):
        backend0, process0 = backend_cpu(), time.process_time()
        for call in calls:
            response = call()
            assert response.status_code == 200, (label, response.status_code)
        own.append((time.process_time() - process0) * 1000)
        server.append((backend_cpu() - backend0) * 1000)
    figures = statistics.median(own), statistics.median(server)
    print(f"{label:<58} process {figures[0]:>8.1f} ms   PostgreSQL {figures[1]:>8.1f} ms")
    return figures


def raw_export() -> SimpleNamespace:
    """The least an export of the silver members can cost: their rows in one statement, written as the CSV."""
    from app import csv_export
    from marketing.members import EXPORT_COLUMNS

    rows = db.session.execute(text(
        "SELECT m.id, m.nickname, m.phone, t.code, m.growth, coalesce(a.available - a.debt, 0), m.vip_until,"
        " m.source_channel, m.created_at FROM members m JOIN tiers t ON t.id = m.tier_id"
        " LEFT JOIN points_accounts a ON a.member_id = m.id WHERE t.code = 'silver' ORDER BY m.id DESC")).all()
    db.session.commit()
    csv_export.render(EXPORT_COLUMNS, rows)
    return SimpleNamespace(status_code=200)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--ledger", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="time the pages on the data a previous run left")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        raise SystemExit("set BENCH_DATABASE_URL to a PostgreSQL database you may wipe")
    app = create_app("test", {"SQLALCHEMY_DATABASE_URI": database_url(url),
                              "REDIS_URL": os.environ.get("BENCH_REDIS_URL"), "DEMO_DIR": "/tmp/bench_console"})
    with app.app_context():
        from app.operators import service as operators
        from marketing import segments
        from reports import rollups

        today = clock.business_today()
        if not args.reuse:
            db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
            db.session.commit()
            db.drop_all()
            db.create_all()
            print(f"members {args.members:,}  ledger rows {args.ledger:,}")
            _reports_bench().load(args.members, args.ledger)
            rollups.rollup_range(today - timedelta(days=30), today - timedelta(days=1))
            segments.recompute_lifecycle()
            segments.compute_rfm()
            segments.compute_koc()
            operators.create_operator("bench_marketing", "password123", "marketing", None)
            db.session.commit()

        api = app.test_client()
        token = api.post("/api/v1/auth/operator-login",
                         json={"username": "bench_marketing", "password": "password123"}).get_json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        console = app.test_client()
        form = console.get("/console/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        response = console.post("/console/login", data={"username": "bench_marketing", "password": "password123",
                                                        "csrf_token": csrf})
        assert response.status_code == 302, response.status_code
        first = (today - timedelta(days=29)).isoformat()
        reports = "/api/v1/admin/reports"
        floor = [lambda: api.get(f"{reports}/summary?from={today}&to={today}", headers=headers),
                 lambda: api.get(f"{reports}/summary?from={first}&to={today}", headers=headers),
                 lambda: api.get(f"{reports}/daily?from={first}&to={today}", headers=headers),
                 lambda: api.get(f"{reports}/lifecycle", headers=headers),
                 lambda: api.get(f"{reports}/rfm", headers=headers),
                 lambda: api.get(f"{reports}/super-users?limit=1", headers=headers)]
        print(f"rows: members {args.members:,}; silver members (the export) "
              f"{db.session.scalar(text('SELECT count(*) FROM members WHERE tier_id = 2')):,}")
        measure("floor: the 6 API calls the dashboard's figures come from", floor)
        measure("GET /console/marketing/dashboard", [lambda: console.get("/console/marketing/dashboard")])
        measure("floor: GET /api/v1/admin/members?tier=silver (a page)",
                [lambda: api.get("/api/v1/admin/members?tier=silver", headers=headers)])
        measure("GET /console/marketing/members?tier=silver",
                [lambda: console.get("/console/marketing/members?tier=silver")])
        measure("floor: one SQL SELECT of the same rows + csv_export.render", [raw_export])
        measure("GET /api/v1/admin/members/export?tier=silver (CSV)",
                [lambda: api.get("/api/v1/admin/members/export?tier=silver", headers=headers)])
        measure("GET /console/marketing/members.csv?tier=silver",
                [lambda: console.get("/console/marketing/members.csv?tier=silver")])


if __name__ == "__main__":
    main()
