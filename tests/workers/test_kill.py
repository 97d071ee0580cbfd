"""A worker SIGKILLed between batches or inside one, then the job run again: the end state of one clean run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.job_runs.models import JobRun
from points import jobs as points_jobs
from points import ledger as ledger
from points.models import LedgerEntry
from tests.workers.helpers import DAY, assert_balances_chain, open_due_lots, seed_population, state_of

ROOT = Path(__file__).resolve().parents[2]


def _expire_rows() -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "expire"))


@pytest.mark.parametrize(("stage", "batch", "done_before_kill", "progress_recorded"), [
    ("committed", 2, 6, 3),  # between batches: batch 2 committed, killed before its progress was recorded
    ("written", 3, 6, 6),  # inside the third batch: its SQL ran, the commit never happened
])
def test_killed_worker_and_a_rerun_end_like_one_clean_run(app, stage, batch, done_before_kill, progress_recorded):
    expected = seed_population(6)  # 12 due lots, 6 not due
    now = clock.start_of_business_day(DAY) + timedelta(minutes=5)
    clock.set_now(now)
    db.session.remove()
    overrides = {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                 "REDIS_URL": app.config["REDIS_URL"], "DEMO_DIR": app.config["DEMO_DIR"]}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.workers.kill_worker", stage, str(batch), now.isoformat(), DAY.isoformat(), "3"],
        cwd=ROOT, env={**os.environ, "KILL_TEST_OVERRIDES": json.dumps(overrides)}, timeout=120,
        capture_output=True, text=True,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert _expire_rows() == done_before_kill
    assert open_due_lots(now) == 12 - done_before_kill
    assert ledger.verify() == []  # a kill never leaves a half-written batch
    killed = db.session.scalar(select(JobRun))
    assert (killed.state, killed.finished_at, killed.changed) == ("running", None, progress_recorded)

    counts = points_jobs.expire_points_lots(day=DAY)

    assert counts["changed"] == 12 - done_before_kill
    assert _expire_rows() == 12 and open_due_lots(now) == 0
    for member_id, want in expected.items():
        got = state_of(member_id)
        assert (got["available"], got["expired"], len(got["expire_keys"])) == (want["available"], want["expired"], 2)
    assert_balances_chain()
    assert ledger.verify() == []
    runs = db.session.scalars(select(JobRun).order_by(JobRun.id)).all()
    assert [run.state for run in runs] == ["running", "succeeded"]
