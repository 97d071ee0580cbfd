"""server.worker.Worker builds the app once per worker process; every job (each in its forked work horse)
reuses it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rq import Queue
from sqlalchemy import select

from app.extensions import db
from app.job_runs.models import JobRun
from app.redis_store import get_redis

ROOT = Path(__file__).resolve().parents[2]


def test_the_app_is_built_once_for_all_the_jobs_of_a_worker(app, tmp_path):
    queue = Queue("default", connection=get_redis())
    for _ in range(3):
        queue.enqueue("tests.workers.app_once_worker.noop")
    db.session.remove()
    log = tmp_path / "apps.log"
    overrides = {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                 "REDIS_URL": app.config["REDIS_URL"], "DEMO_DIR": app.config["DEMO_DIR"]}
    env = {**os.environ, "WORKER_TEST_OVERRIDES": json.dumps(overrides), "WORKER_TEST_LOG": str(log),
           "WORKER_TEST_REDIS": app.config["REDIS_URL"]}
    done = subprocess.run([sys.executable, "-m", "tests.workers.app_once_worker"], cwd=ROOT, env=env, timeout=180)
    assert done.returncode == 0
    builders = log.read_text().split()
    assert len(builders) == 1  # the worker process, not one per job
    runs = db.session.scalars(select(JobRun).where(JobRun.job == "noop")).all()
    assert [(run.state, run.scanned) for run in runs] == [("succeeded", 1)] * 3
