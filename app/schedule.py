"""Every RQ queue and every periodic job, declared as data in one place (Redash's layout).

Queues are named by workload so a slow bulk grant never delays a WeChat notification. `rq cron` loads
this file (`rq cron app/schedule.py`); cron strings run in UTC, so business-time schedules are converted
when declared. Run exactly one `rq cron` process.
"""
from __future__ import annotations

from pathlib import Path

QUEUE_NAMES = ["notify", "grants", "expiry", "default"]  # a worker serves them in this priority order

# (job function path, queue, cron in UTC) -- filled by the workers issue
PERIODIC: list[tuple[str, str, str]] = []


def cron_config_path() -> str:
    return str(Path(__file__).resolve())


def _register_periodic() -> None:
    from rq import cron

    for func_name, queue_name, cron_string in PERIODIC:
        cron.register(func_name, queue_name=queue_name, cron=cron_string)


if __name__ != "app.schedule":  # loaded by `rq cron` as a config file, not imported by the app
    _register_periodic()
