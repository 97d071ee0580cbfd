"""A worker process for test_worker_class.py: the project's worker class on the test's database and Redis
(WORKER_TEST_OVERRIDES, JSON), writing a line to WORKER_TEST_LOG each time it builds an app."""
from __future__ import annotations

import json
import os

from redis import Redis

from server import create_app
from server.worker import Worker


class CountingWorker(Worker):
    def build_app(self):
        with open(os.environ["WORKER_TEST_LOG"], "a") as log:
            log.write(f"{os.getpid()}\n")
        return create_app("test", json.loads(os.environ["WORKER_TEST_OVERRIDES"]))


def noop() -> dict:
    """A recorded job that does nothing: what the runner itself costs."""
    from app.jobs import run_job

    return run_job("noop", lambda: {"scanned": 1})


if __name__ == "__main__":
    connection = Redis.from_url(os.environ["WORKER_TEST_REDIS"])
    CountingWorker(["default"], connection=connection).work(burst=True, with_scheduler=False)
