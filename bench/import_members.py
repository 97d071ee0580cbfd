"""Importing 1,000,000 existing customers from a CSV file (PostgreSQL), beside the floor: the same rows
written by the database alone.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<scratch db> BENCH_REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/import_members.py [--rows 1000000] [--chunk 2000] [--steps import,re-run,floor]

It drops and recreates every table of that database (never point it at real data), seeds the demo program
(tiers, points policy), writes a CSV of N customers (a deterministic mix: 70% with a phone, 30% a unionid,
60% with one or two points lots, 30% with tags, 40% a source channel, 10% VIP, tiers named or reached by
growth), then:

1. `import`: `flask import members`'s code path (onboarding.importer.run, chunks of --chunk rows);
2. `re-run`: the same file again as a new batch (every row skipped by its external id: what a resume costs);
3. `floor`: the tables emptied and the same rows (members, identities, tags, tier changes, points accounts,
   entries, lots) inserted by INSERT .. SELECT FROM generate_series: no Python, no file, no checks;
   the database's own cost of those rows and their indexes.

For each: rows/s, wall time, the CPU time of this process (time.process_time) and of its PostgreSQL backend
(/proc/<pg_backend_pid>/stat: the server must run on this machine). It checks the ledger (points.ledger.verify)
and the counts. Figures are printed, never asserted.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import func, select, text  # noqa: E402

from app import clock  # noqa: E402
from app.extensions import db  # noqa: E402
from config import database_url  # noqa: E402
from server import create_app  # noqa: E402

HEADER = ["external_id", "phone", "unionid", "name", "birthday", "gender", "tier", "growth", "points", "vip_until",
          "tags", "source_channel", "joined_at"]
TIERS = ("", "", "", "silver", "gold")  # most rows leave the tier to their growth


def customer(i: int) -> list:
    """Row i of the file: every value derived from i, so any run writes the same file."""
    lots = ""
    if i % 5 < 3:
        lots = f"{i % 900 + 100}:2027-{i % 12 + 1:02d}-28"
        if i % 2:
            lots += f";{i % 300 + 1}"
    return [f"CRM{i:08d}", f"13{i:09d}" if i % 10 < 7 else "", f"u-{i:08d}" if i % 10 >= 7 else "",
            f"会员{i}", f"19{60 + i % 40}-{i % 12 + 1:02d}-{i % 28 + 1:02d}", i % 3, TIERS[i % 5], i * 7 % 8000,
            lots, "2026-12-31" if i % 10 == 0 else "", "老客;门店会员" if i % 10 < 3 else "",
            f"store_{i % 20}" if i % 5 < 2 else "", f"20{15 + i % 10}-0{i % 9 + 1}-15"]


def write_file(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(1, rows + 1):
            writer.writerow(customer(i))


def backend_cpu() -> float:
    """CPU seconds (user + system) of this session's PostgreSQL backend so far."""
    pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    db.session.commit()
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(label: str, rows: int, work) -> None:
    pg, cpu, wall = backend_cpu(), time.process_time(), time.perf_counter()
    work()
    wall, cpu, pg = time.perf_counter() - wall, time.process_time() - cpu, backend_cpu() - pg
    print(f"{label:8} {rows / wall:>9,.0f} rows/s  wall {wall:7.1f} s  CPU: this process {cpu:6.1f} s, "
          f"PostgreSQL backend {pg:6.1f} s", flush=True)


def run_import(path: Path, chunk: int) -> None:
    from onboarding import importer

    with path.open("rb") as stream:
        batch, _ = importer.open_file_batch(stream, path.name, "csv", dry_run=False)
        done = importer.run(batch.id, stream, chunk_size=chunk)
    print(f"         batch {done.id}: imported {done.imported}, skipped {done.skipped}, refused {done.failed}, "
          f"opening points {done.points}")


FLOOR_TABLES = ("points_lots", "points_ledger", "points_accounts", "tier_changes", "member_tags", "member_identities",
                "members")


def floor(rows: int) -> None:
    """The same rows as the import writes, by the database alone (the members and their rows by set SQL)."""
    tiers = dict(db.session.execute(text("SELECT code, id FROM tiers")).all())
    db.session.execute(text("""
        INSERT INTO members (nickname, gender, birthday, phone, tier_id, growth, purchase_count, code_nonce,
                             tier_period_start, tier_review_on, vip_until, invite_code, source_channel, external_id,
                             created_at)
        SELECT '会员' || i, i % 3, date '1960-01-01' + (i % 14000),
               CASE WHEN i % 10 < 7 THEN '13' || lpad(i::text, 9, '0') END,
               CASE WHEN i * 7 % 8000 >= 5000 OR i % 5 = 4 THEN :gold
                    WHEN i * 7 % 8000 >= 1000 OR i % 5 = 3 THEN :silver ELSE :normal END,
               i * 7 % 8000, 0, 0, now(), date '2027-03-05',
               CASE WHEN i % 10 = 0 THEN timestamptz '2026-12-31 16:00Z' END,
               'F' || lpad(i::text, 9, '0'), CASE WHEN i % 5 < 2 THEN 'store_' || (i % 20) END,
               'CRM' || lpad(i::text, 8, '0'), now()
        FROM generate_series(1, :rows) AS i"""), {"rows": rows, **tiers})
    db.session.execute(text("""
        INSERT INTO member_identities (member_id, kind, app_id, value, created_at)
        SELECT id, 'unionid', '', 'u-' || id, now() FROM members WHERE id % 10 >= 7"""))
    db.session.execute(text("""
        INSERT INTO member_tags (member_id, tag, source, created_at)
        SELECT id, t.tag, 'manual', now() FROM members, (VALUES ('老客'), ('门店会员')) AS t(tag) WHERE id % 10 < 3
        UNION ALL
        SELECT id, 'channel:' || source_channel, 'auto', now() FROM members WHERE source_channel IS NOT NULL"""))
    db.session.execute(text("""
        INSERT INTO tier_changes (member_id, from_tier_id, to_tier_id, reason, ref, growth, created_at)
        SELECT id, NULL, tier_id, 'opening', 'import:floor', growth, now() FROM members WHERE tier_id <> :normal"""),
        tiers)
    db.session.execute(text("""
        INSERT INTO points_accounts (member_id, available, pending, debt, updated_at)
        SELECT id, id % 900 + 100 + CASE WHEN id % 2 = 1 THEN id % 300 + 1 ELSE 0 END, 0, 0, now()
        FROM members WHERE id % 5 < 3"""))
    db.session.execute(text("""
        INSERT INTO points_ledger (member_id, delta, kind, business_key, cause_type, cause_id, balance_after,
                                   expires_at, note, created_at)
        SELECT member_id, available, 'opening', 'opening:' || member_id, 'import_batch', '0', available,
               timestamptz '2027-06-28 16:00Z', 'opening balance', now() FROM points_accounts"""))
    db.session.execute(text("""
        INSERT INTO points_lots (member_id, entry_id, amount, remaining, state, available_at, expires_at, created_at)
        SELECT e.member_id, e.id, e.member_id % 900 + 100, e.member_id % 900 + 100, 'open', now(),
               timestamptz '2027-06-28 16:00Z', now() FROM points_ledger e
        UNION ALL
        SELECT e.member_id, e.id, e.member_id % 300 + 1, e.member_id % 300 + 1, 'open', now(), NULL, now()
        FROM points_ledger e WHERE e.member_id % 2 = 1"""))
    db.session.commit()


def table_rows() -> str:
    counts = {name: db.session.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in FLOOR_TABLES}
    db.session.commit()
    return ", ".join(f"{name} {count:,}" for name, count in counts.items())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=2000)
    parser.add_argument("--steps", default="import,re-run,floor", help="which of import, re-run, floor to run")
    args = parser.parse_args()
    steps = set(args.steps.split(","))
    url = os.environ.get("BENCH_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        raise SystemExit("BENCH_DATABASE_URL=postgresql://... (a scratch database: every table is dropped)")
    with tempfile.TemporaryDirectory() as scratch:
        app = create_app("test", {"SQLALCHEMY_DATABASE_URI": database_url(url), "DEMO_DIR": scratch,
                                  "REDIS_URL": os.environ.get("BENCH_REDIS_URL")})
        with app.app_context():
            import demo
            from points import ledger

            db.drop_all()
            db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
            db.session.commit()
            db.create_all()
            clock.set_now(None)
            demo.seed(with_history=False)
            path = Path(scratch) / "customers.csv"
            started = time.perf_counter()
            write_file(path, args.rows)
            print(f"wrote {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in "
                  f"{time.perf_counter() - started:.0f} s; chunks of {args.chunk}", flush=True)
            demo_members = db.session.scalar(select(func.count()).select_from(text("members")))
            if "import" in steps:
                measured("import", args.rows, lambda: run_import(path, args.chunk))
                print(f"         {table_rows()}")
                started = time.perf_counter()
                drifts = ledger.verify()
                print(f"         points verify: {len(drifts)} drifts ({time.perf_counter() - started:.0f} s)")
            if "re-run" in steps:
                measured("re-run", args.rows, lambda: run_import(path, args.chunk))
            if "floor" in steps:
                db.session.execute(text("TRUNCATE " + ", ".join(FLOOR_TABLES) + " RESTART IDENTITY CASCADE"))
                db.session.commit()
                measured("floor", args.rows, lambda: floor(args.rows))
                print(f"         {table_rows()} (the demo program's {demo_members} members are gone)")


if __name__ == "__main__":
    main()
