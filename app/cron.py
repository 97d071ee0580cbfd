"""What `rq cron app/cron.py` loads: every periodic job of app/schedule.py registered with RQ's scheduler.

Cron does not enqueue the jobs themselves: it enqueues `app.jobs.scheduled(name)`, which enqueues the real
job under a deterministic id (job name + business date), so a second cron process or a hand enqueue of
the same run is refused instead of doing the work twice.

The embedded demo sets CRON_DEMO_INTERVAL (seconds): every periodic job is then offered at start-up and
every that many seconds instead of at its cron time (the deterministic ids still run each once per period).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from rq import cron

from app.jobs import scheduled
from app.schedule import JOBS, PERIODIC


def cron_config_path() -> str:
    return str(Path(__file__).resolve())


def _register_periodic() -> None:
    if Path(sys.argv[0]).name == "rq" and sys.argv[1:2] == ["cron"]:
        os.environ["TZ"] = "UTC"  # RQ 3 reads cron fields as the process's local time: make that UTC
        time.tzset()
    demo_interval = int(os.environ.get("CRON_DEMO_INTERVAL") or 0)
    for name, cron_string in PERIODIC:
        when = {"interval": demo_interval} if demo_interval else {"cron": cron_string}
        cron.register(scheduled, queue_name=JOBS[name].queue, kwargs={"name": name}, name=name, job_timeout=300,
                      **when)


# `rq cron app/cron.py` imports this module as `app.cron` and `rq cron /abs/path/cron.py` loads it
# under another name: register either way (outside `rq cron` the registry is an unused list in rq.cron).
_register_periodic()
