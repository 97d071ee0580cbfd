"""How every RQ job runs its domain code: inside an app context, recorded in the job-runs table.

Job functions (in each domain's `jobs.py`) stay thin: `run_job("name", service_function, **ids)`.
Jobs receive ids and dates, never ORM objects. Each run (each RQ try) writes a `job_runs` row before it
starts and fills it in when it ends, so a run killed mid-way shows as `running` forever and a failed one
says why; the domain's batches call `batch_done(counts)` so a long run shows its progress as it goes.

Enqueueing goes through `enqueue(name, ...)`: the RQ job id is the job name plus its business date (or
hour, or month), claimed with SET NX in Redis, so the same run cannot be queued twice; failures are
retried by RQ with backoff and land in the failed registry after the last try.
"""
from __future__ import annotations

import contextvars
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import Flask, has_app_context
from rq import Queue, Retry, get_current_job

from app import clock
from app.extensions import db
from app.job_runs import service as job_runs
from app.redis_store import get_redis
from app.schedule import JOBS, ON_DEMAND

_process_app: Flask | None = None
log = logging.getLogger(__name__)

MAX_RETRIES = 3
RETRY_INTERVALS = [10, 60, 300]
CLAIM_TTL = 3 * 24 * 3600  # a run key is refused for three days after its first enqueue
COUNT_KEYS = ("scanned", "changed", "skipped", "failed")


def use_app(app: Flask) -> None:
    """The app jobs run in when no app context is pushed: a worker process builds it once, before it forks
    (server.worker.Worker), and every job of the process reuses it."""
    global _process_app
    _process_app = app


def _app() -> Flask:
    if _process_app is None:
        raise RuntimeError("No app for this job: run workers with `rq worker -w server.worker.Worker ...`.")
    return _process_app


# --- progress -----------------------------------------------------------------------------------------

@dataclass
class _Run:
    run_id: int | None
    counts: dict = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    on_progress: Callable[[dict, int | None], None] | None = None


_current: contextvars.ContextVar[_Run | None] = contextvars.ContextVar("job_run", default=None)
_progress_listener: contextvars.ContextVar[Callable | None] = contextvars.ContextVar("job_progress", default=None)


def zero_counts() -> dict:
    """What a job run counts, all zero: the start of every job's tally."""
    return dict.fromkeys(COUNT_KEYS, 0)


def clean_counts(result: Any) -> dict:
    source = result if isinstance(result, dict) else {}
    return {key: int(source.get(key) or 0) for key in COUNT_KEYS}


def batch_done(counts: dict, total: int | None = None) -> None:
    """Called by a job after each committed batch with its running totals (and the total when known)."""
    run = _current.get()
    if run is None:
        return
    run.counts = clean_counts(counts)
    if run.run_id is not None and not _holds_sqlite_write_lock():
        job_runs.progress(run.run_id, run.counts)
    if run.on_progress is not None:
        run.on_progress(run.counts, total)


def _holds_sqlite_write_lock() -> bool:
    """Whether this session has a transaction open on SQLite, where every transaction holds the one write lock
    from its BEGIN (app/extensions.py): the progress row, written on its own connection, would wait for this very
    session until the busy timeout, and every other worker with it. A job that reads again after its commit (an
    expired attribute loaded anew) is in that state; its progress then waits for the next batch or the finish.
    PostgreSQL locks rows, so there the progress is always written."""
    return db.engine.dialect.name == "sqlite" and db.session().in_transaction()


def on_progress(listener: Callable[[dict, int | None], None] | None) -> contextvars.Token:
    """Let the caller (the CLI's progress bar) hear every `batch_done` of the runs it starts."""
    return _progress_listener.set(listener)


def stop_progress(token: contextvars.Token) -> None:
    _progress_listener.reset(token)


# --- running ------------------------------------------------------------------------------------------

def _run_key_of(kwargs: dict, rq_job) -> str | None:
    if rq_job is not None and rq_job.meta.get("run_key"):
        return str(rq_job.meta["run_key"])
    for name in ("day", "month"):
        value = kwargs.get(name)
        if isinstance(value, date | datetime | str):
            return value.isoformat() if isinstance(value, date | datetime) else value
    return None


def _attempt_of(rq_job) -> int:
    if rq_job is None or rq_job.retries_left is None:
        return 1
    return MAX_RETRIES - rq_job.retries_left + 1


def last_attempt() -> bool:
    """Whether a failure now is final (RQ schedules no retry after it): a job whose service records its own
    state (a targeted coupon issue) says "failed" only then, and "still trying" before. Outside RQ: True."""

    rq_job = get_current_job()
    return rq_job is None or not rq_job.retries_left


def _run_recorded(name: str, func: Callable[..., Any], kwargs: dict) -> Any:
    rq_job = get_current_job()
    # The run's row is written on its own connection. On SQLite every transaction holds the write lock from its
    # BEGIN (app/extensions.py), so one this session still has open (a caller in the same app context that only
    # read) would keep that connection waiting: it is committed first, as the job's first batch would have.
    db.session.commit()
    run_id = job_runs.start(name, _run_key_of(kwargs, rq_job), rq_job.id if rq_job else None, _attempt_of(rq_job))
    run = _Run(run_id, on_progress=_progress_listener.get())
    token = _current.set(run)
    try:
        result = func(**kwargs)
    except BaseException as exc:
        db.session.rollback()
        job_runs.finish(run_id, run.counts, error="".join(traceback.format_exception_only(exc)).strip()[:4000])
        raise
    finally:
        _current.reset(token)
    # The job's service committed what it keeps; anything left open (a read, a lazily created default row) ends
    # here, so the run's own connection never waits on this session's write lock (SQLite has one writer).
    db.session.rollback()
    counts = clean_counts(result) if isinstance(result, dict) else run.counts
    job_runs.finish(run_id, counts)
    return result


def run_job(name: str, func: Callable[..., Any], **kwargs: Any) -> Any:
    """Run `func(**kwargs)` for the job `name`, recorded in job_runs (in the caller's app context if any)."""
    if has_app_context():
        return _run_recorded(name, func, kwargs)
    with _app().app_context():
        return _run_recorded(name, func, kwargs)


# --- enqueueing ---------------------------------------------------------------------------------------

def run_key(name: str, day: date | None = None, moment: datetime | None = None) -> str:
    """The business period a run is for: its deterministic id is `<name>-<run key>`."""

    period = JOBS[name].period
    moment = clock.as_utc(moment or clock.now()).astimezone(clock.business_tz())
    day = day or moment.date()
    if period == "month":
        return day.strftime("%Y-%m")
    if period == "hour":
        return f"{day.isoformat()}T{moment.hour:02d}" if day == moment.date() else f"{day.isoformat()}T00"
    return day.isoformat()


def job_kwargs(name: str, day: date | None) -> dict:
    """What a job function is called with: its `day`/`month` argument only when a date was asked for."""

    arg = JOBS[name].arg
    if day is None or arg is None:
        return {}
    return {"month": day.replace(day=1)} if arg == "month" else {"day": day}


def enqueue(name: str, day: date | None = None, connection=None, suffix: str = "", **extra: Any):
    """Queue the run of `name` for `day` (default: the current business period) under its deterministic
    id; returns the RQ job, or None when that run was already queued (the second enqueue is refused)."""

    spec = JOBS[name]
    connection = connection or get_redis()
    key = run_key(name, day)
    job_id = f"{name}-{key}{suffix}"
    if not connection.set(f"loyalty:job-claim:{job_id}", "1", nx=True, ex=CLAIM_TTL):
        log.info("job %s already queued: refusing a second enqueue", job_id)
        return None
    return _enqueue(spec, connection, kwargs={**job_kwargs(name, day), **extra}, job_id=job_id,
                    meta={"run_key": key}, description=f"{name} {key}{suffix}")


def enqueue_on_demand(name: str, *, job_id: str | None = None, run_key: str | None = None, connection=None,
                      at: datetime | None = None, **kwargs: Any):
    """Queue a job the app starts itself (app.schedule.ON_DEMAND: a batch of messages, a targeted issue) with
    its declared queue, timeout and retries; `run_key` names the run in job_runs; `at`: not before then (RQ's
    scheduler, which the workers run, queues it)."""
    meta = {"run_key": run_key} if run_key else {}
    return _enqueue(ON_DEMAND[name], connection or get_redis(), kwargs=kwargs, job_id=job_id, meta=meta,
                    description=f"{name} {run_key or ''}".strip(), at=at)


def _enqueue(spec, connection, *, kwargs: dict, job_id: str | None, meta: dict, description: str,
             at: datetime | None = None):
    queue = Queue(spec.queue, connection=connection)
    schedule = (lambda *args, **options: queue.enqueue_at(at, *args, **options)) if at else queue.enqueue
    return schedule(
        spec.path, kwargs=kwargs, job_id=job_id, job_timeout=spec.timeout,
        retry=Retry(max=MAX_RETRIES, interval=RETRY_INTERVALS), meta=meta,
        result_ttl=24 * 3600, failure_ttl=14 * 24 * 3600, description=description,
    )

def scheduled(name: str) -> str | None:
    """What `rq cron` enqueues: queue today's run of `name` under its deterministic id."""
    def go() -> str | None:
        job = enqueue(name)
        return job.id if job is not None else None

    if has_app_context():
        return go()
    with _app().app_context():
        return go()
