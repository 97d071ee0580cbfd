"""A run killed mid-way and run again finishes the file once: the batch resumes after its last committed chunk,
and no member or balance is written twice (a real subprocess killed with SIGKILL, on SQLite and PostgreSQL)."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from onboarding import importer
from onboarding.models import ImportBatch
from tests.onboarding.helpers import imported_count, opening_points, run_cli, write_csv

ROOT = Path(__file__).resolve().parents[2]
RUN_CLI = ("import json, sys\nfrom server import create_app\n"
           "app = create_app('test', json.loads(sys.argv[1]))\n"
           "result = app.test_cli_runner().invoke(args=sys.argv[2:])\n"
           "sys.exit(result.exit_code)\n")


def _customers(n: int) -> list[dict]:
    return [{"external_id": f"K{i:06d}", "phone": f"137{i:08d}", "points": f"{i % 7 + 1}:2027-12-31",
             "growth": str(i % 3000)} for i in range(n)]


def _rows_done() -> tuple[int, str] | None:
    """The batch's progress, read without waiting for the subprocess's writes. On SQLite every transaction of the
    app's engine begins IMMEDIATE (a write lock), which the writing subprocess can starve until it has finished:
    the poll reads through a plain connection there, whose read takes no write lock."""
    if db.engine.dialect.name == "sqlite":
        with sqlite3.connect(db.engine.url.database, timeout=30) as plain:
            row = plain.execute("SELECT rows_done, state FROM import_batches").fetchone()
        return None if row is None else (row[0], row[1])
    row = db.session.execute(select(ImportBatch.rows_done, ImportBatch.state)).first()
    db.session.rollback()  # never hold a transaction while the subprocess writes
    return None if row is None else (row.rows_done, row.state)


def test_a_killed_import_resumes_where_it_stopped_and_doubles_nothing(app, tiers, tmp_path):
    rows = _customers(20_000)
    path = write_csv(tmp_path / "big.csv", rows)
    db.session.commit()
    overrides = {name: app.config[name] for name in ("SQLALCHEMY_DATABASE_URI", "SQLALCHEMY_ENGINE_OPTIONS",
                                                    "DEMO_DIR", "REDIS_URL")}
    child = subprocess.Popen([sys.executable, "-c", RUN_CLI, json.dumps(overrides), "import", "members", str(path),
                              "--chunk-size", "250"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        progress = _rows_done()
        if progress and progress[0] >= 2_000:
            break
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    killed_at, state = _rows_done()
    assert state == "running" and 2_000 <= killed_at < 20_000, (killed_at, state)
    assert imported_count() == killed_at  # whole chunks only: nothing half-written

    result = run_cli(app, path, "--chunk-size", "1000")
    assert result.exit_code == 0, result.output
    assert f"resuming batch 1 after row {killed_at} of 20000" in result.output
    batch = db.session.scalar(select(ImportBatch))
    assert (batch.state, batch.rows_done, batch.imported, batch.skipped, batch.failed) == ("done", 20_000, 20_000, 0, 0)
    assert imported_count() == 20_000
    assert opening_points() == sum(i % 7 + 1 for i in range(20_000)) == batch.points
    # the ledger self-check (tests/conftest.py) runs after the test: balances == ledger == open lots


def test_a_run_that_starts_over_skips_whom_it_wrote(app, tiers, tmp_path):
    """Even without the batch's progress (a chunk committed, then its progress lost), external ids decide."""
    path = write_csv(tmp_path / "some.csv", _customers(30))
    with path.open("rb") as stream:
        batch, _ = importer.open_file_batch(stream, "some.csv", None, dry_run=False)
        importer.run(batch.id, stream, chunk_size=7)
    batch.state, batch.rows_done, batch.imported = "running", 0, 0  # as if the progress had never been saved
    db.session.commit()
    result = run_cli(app, path)
    assert "imported 0, skipped 30 already imported" in result.output
    assert imported_count() == 30 and opening_points() == sum(i % 7 + 1 for i in range(30))


def test_two_runs_of_one_batch_cannot_both_write_a_chunk(app, tiers, tmp_path):
    path = write_csv(tmp_path / "some.csv", _customers(10))
    with path.open("rb") as stream:
        batch, _ = importer.open_file_batch(stream, "some.csv", None, dry_run=False)
        batch_id = batch.id
        importer.run(batch_id, stream, chunk_size=4)
    batch = db.session.get(ImportBatch, batch_id)
    batch.state = "running"  # another process's run, which has done rows 1..10 already
    db.session.commit()
    stale = [importer.rows.check(1, {"external_id": "late"}, importer.context())]
    with pytest.raises(importer.BatchBusy):
        importer._chunk(batch_id, stale, dry_run=False)
    db.session.rollback()
    assert imported_count() == 10
