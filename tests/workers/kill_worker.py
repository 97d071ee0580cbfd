"""A worker process that SIGKILLs itself at a chosen point of the expiry job (run by test_kill.py).

argv: stage ("written": the batch's SQL ran, not committed; "committed"), batch number, the frozen clock,
the business day, the batch size. KILL_TEST_OVERRIDES (JSON) points it at the test's database and Redis.
"""
from __future__ import annotations

import json
import os
import signal
import sys
from datetime import date, datetime


def main() -> None:
    stage, batch, now, day, batch_size = sys.argv[1:6]
    from app import clock
    from points import expiry
    from points import jobs as points_jobs
    from server import create_app

    app = create_app("test", json.loads(os.environ["KILL_TEST_OVERRIDES"]))
    expiry.BATCH_SIZE = int(batch_size)

    def checkpoint(at_stage: str, at_batch: int) -> None:
        if at_stage == stage and at_batch == int(batch):
            os.kill(os.getpid(), signal.SIGKILL)

    expiry._checkpoint = checkpoint
    clock.set_now(datetime.fromisoformat(now))
    with app.app_context():
        points_jobs.expire_points_lots(day=date.fromisoformat(day))


if __name__ == "__main__":
    main()
