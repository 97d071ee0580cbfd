"""Job runs recorded, deterministic ids, retries into the failed registry, the CLI, the admin list, the schedule."""
from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from app import clock, schedule
from app import cron as app_cron
from app import jobs as job_runtime
from app.extensions import db
from app.job_runs.models import JobRun
from app.redis_store import get_redis
from tests.conftest import bearer
from tests.workers.helpers import DAY, seed_population, state_of

CALLS: list[int] = []


def flaky_service(fail_times: int) -> dict:
    CALLS.append(1)
    if len(CALLS) <= fail_times:
        raise RuntimeError(f"database went away (try {len(CALLS)})")
    return {"scanned": 5, "changed": 4, "skipped": 1, "failed": 0}


def flaky_job(fail_times: int = 99) -> dict:
    return job_runtime.run_job("flaky", flaky_service, fail_times=fail_times)


@pytest.fixture
def flaky(monkeypatch):
    CALLS.clear()
    monkeypatch.setitem(schedule.JOBS, "flaky", schedule.JobSpec("tests.workers.test_runs.flaky_job", "default"))
    return "flaky"


def _work(*queues: str) -> None:
    SimpleWorker([Queue(name, connection=get_redis()) for name in queues], connection=get_redis()).work(
        burst=True, with_scheduler=False)


def test_a_run_is_recorded_with_its_counts():
    job_runtime.run_job("tidy", lambda day: {"scanned": 3, "changed": 2, "skipped": 1, "failed": 0}, day=DAY)
    run = db.session.scalar(select(JobRun))
    assert (run.job, run.run_key, run.state, run.counts, run.error) == (
        "tidy", "2026-03-01", "succeeded", {"scanned": 3, "changed": 2, "skipped": 1, "failed": 0}, None)


def test_a_batch_that_reads_again_after_its_commit_neither_waits_nor_fails():
    """On SQLite a transaction holds the one write lock from its BEGIN: the progress row, written on its own
    connection while the job's session has read again after committing, used to wait for that very session for
    the busy timeout and fail the job (and stall every other worker meanwhile, as in the demo)."""
    seen = []

    def batches() -> dict:
        counts = job_runtime.zero_counts()
        for _ in range(2):
            db.session.commit()  # the batch's writes
            seen.append(db.session.scalar(select(JobRun.state)))  # a read after the commit opens a transaction
            counts["scanned"] += 1
            job_runtime.batch_done(counts)
        return counts

    job_runtime.run_job("tidy", batches)
    run = db.session.scalar(select(JobRun))
    assert seen == ["running", "running"]
    assert (run.state, run.counts["scanned"], run.error) == ("succeeded", 2, None)


def test_progress_is_written_between_batches():
    progress = []

    def batches() -> dict:
        counts = job_runtime.zero_counts()
        counts["scanned"] = 7
        job_runtime.batch_done(counts)
        progress.append(db.session.scalar(select(JobRun.scanned)))
        db.session.rollback()
        return counts

    job_runtime.run_job("tidy", batches)
    assert progress == [7]


def test_a_failing_run_is_recorded_with_why_and_raises():
    def boom():
        raise ValueError("tier table missing")

    with pytest.raises(ValueError):
        job_runtime.run_job("grant", boom)
    run = db.session.scalar(select(JobRun))
    assert run.state == "failed" and "ValueError: tier table missing" in run.error and run.finished_at


def test_deterministic_ids_refuse_a_second_enqueue_of_the_same_run(at):
    at("2026-03-01T00:05:00+08:00")
    first = job_runtime.enqueue("expire_points_lots")
    assert first.id == "expire_points_lots-2026-03-01"
    assert job_runtime.enqueue("expire_points_lots") is None
    assert job_runtime.enqueue("expire_points_lots", day=date(2026, 3, 1)) is None
    assert Queue("expiry", connection=get_redis()).job_ids == [first.id]
    assert job_runtime.enqueue("expire_points_lots", day=date(2026, 2, 28)).id == "expire_points_lots-2026-02-28"
    at("2026-03-01T15:02:00+08:00")
    assert job_runtime.enqueue("activate_pending_points").id == "activate_pending_points-2026-03-01T15"
    assert job_runtime.enqueue("grant_monthly_packs").id == "grant_monthly_packs-2026-03"
    assert first.retries_left == 3 and first.retry_intervals == [10, 60, 300]


def test_what_cron_enqueues_queues_the_real_job_once(at):
    at("2026-03-01T00:05:00+08:00")
    assert job_runtime.scheduled("expire_points_lots") == "expire_points_lots-2026-03-01"
    assert job_runtime.scheduled("expire_points_lots") is None


def test_enqueued_job_runs_on_a_worker_and_does_the_work(at):
    expected = seed_population(2)
    at("2026-03-01T00:05:00+08:00")
    job_runtime.enqueue("expire_points_lots")
    _work("expiry")
    assert all(state_of(m)["available"] == 70 for m in expected)
    run = db.session.scalar(select(JobRun))
    assert (run.rq_job_id, run.state, run.changed, run.attempt) == ("expire_points_lots-2026-03-01", "succeeded", 4, 1)


def test_failures_are_retried_then_land_in_the_failed_registry(flaky, monkeypatch):
    monkeypatch.setattr(job_runtime, "RETRY_INTERVALS", [0, 0, 0])  # the real backoff is 10 s, 60 s, 300 s
    job = job_runtime.enqueue(flaky)
    _work("default")
    assert len(CALLS) == 4  # the first try and three retries
    assert job.id in FailedJobRegistry("default", connection=get_redis()).get_job_ids()
    runs = db.session.scalars(select(JobRun).order_by(JobRun.id)).all()
    assert [(r.attempt, r.state) for r in runs] == [(1, "failed"), (2, "failed"), (3, "failed"), (4, "failed")]
    assert all("RuntimeError: database went away" in r.error for r in runs)


def test_a_retry_that_succeeds_is_recorded_as_such(flaky, monkeypatch):
    monkeypatch.setattr(job_runtime, "RETRY_INTERVALS", [0, 0, 0])
    job_runtime.enqueue(flaky, fail_times=1)
    _work("default")
    runs = db.session.scalars(select(JobRun).order_by(JobRun.id)).all()
    assert [(r.attempt, r.state, r.changed) for r in runs] == [(1, "failed", 0), (2, "succeeded", 4)]
    assert FailedJobRegistry("default", connection=get_redis()).get_job_ids() == []


# --- the CLI --------------------------------------------------------------------------------------------

def test_cli_runs_a_job_by_hand_for_a_date(app):
    expected = seed_population(2)
    clock.set_now(clock.start_of_business_day(DAY) + timedelta(hours=3))
    result = app.test_cli_runner().invoke(args=["jobs", "run", "expire_points_lots", "--date", "2026-03-01"])
    assert result.exit_code == 0, result.output
    assert "scanned 4, changed 4" in result.output
    assert all(state_of(m)["available"] == 70 for m in expected)
    assert db.session.scalar(select(JobRun)).run_key == "2026-03-01"


@pytest.mark.parametrize(("args", "message"), [
    (["jobs", "run", "expire_points_lots", "--date", "01/03/2026"], "YYYY-MM-DD"),
    (["jobs", "run", "expire_points_lots", "--date", "2099-01-01"], "future"),
    (["jobs", "run", "no_such_job"], "no_such_job"),
    (["jobs", "run", "expire_coupons", "--date", "2026-03-01"], "takes no date"),
    (["jobs", "enqueue", "activate_pending_points", "--date", "2026-03-01"], "takes no date"),
])
def test_cli_rejects_bad_input(app, args, message):
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code != 0 and message in result.output
    assert db.session.scalar(select(JobRun)) is None


def test_cli_enqueue_refuses_a_duplicate(app, at):
    at("2026-03-01T10:00:00+08:00")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["jobs", "enqueue", "review_tiers"]).exit_code == 0
    second = runner.invoke(args=["jobs", "enqueue", "review_tiers"])
    assert second.exit_code != 0 and "already queued" in second.output


# --- the admin list -----------------------------------------------------------------------------------

def test_admin_lists_runs_newest_first_with_counts_and_errors(client, marketing, login):
    job_runtime.run_job("tidy", lambda: {"scanned": 1, "changed": 1, "skipped": 0, "failed": 0})
    with pytest.raises(RuntimeError):
        job_runtime.run_job("grant", lambda: (_ for _ in ()).throw(RuntimeError("no tiers")))
    job_runtime.run_job("tidy", lambda: {"scanned": 2, "changed": 0, "skipped": 2, "failed": 0})
    page = client.get("/api/v1/admin/jobs?limit=2", headers=marketing).get_json()
    assert [(i["job"], i["state"]) for i in page["items"]] == [("tidy", "succeeded"), ("grant", "failed")]
    assert page["items"][0]["counts"] == {"scanned": 2, "changed": 0, "skipped": 2, "failed": 0}
    assert "no tiers" in page["items"][1]["error"]
    rest = client.get(f"/api/v1/admin/jobs?limit=2&cursor={page['next_cursor']}", headers=marketing).get_json()
    assert [i["counts"]["scanned"] for i in rest["items"]] == [1] and rest["next_cursor"] is None
    failed = client.get("/api/v1/admin/jobs?state=failed", headers=marketing).get_json()
    assert [i["job"] for i in failed["items"]] == ["grant"]
    token, _ = login("alice")
    assert client.get("/api/v1/admin/jobs", headers=bearer(token)).status_code == 403
    assert client.get("/api/v1/admin/jobs").status_code == 401


@pytest.mark.parametrize("query", ["state=exploded", "limit=0", "limit=101", "cursor=%%%", "colour=red"])
def test_admin_list_rejects_bad_queries(client, marketing, query):
    response = client.get(f"/api/v1/admin/jobs?{query}", headers=marketing)
    assert response.status_code == 422 and response.get_json()["error"]["code"]


# --- the schedule ---------------------------------------------------------------------------------------

def test_business_times_become_utc_cron_strings():
    shanghai = ZoneInfo("Asia/Shanghai")
    assert schedule.utc_cron(5, 0, zone=shanghai) == "5 16 * * *"  # 00:05 CST is 16:05 UTC the day before
    assert schedule.utc_cron(0, 10, zone=shanghai) == "0 2 * * *"
    assert schedule.utc_cron(0, 2, day_of_month=1, zone=shanghai) == "0 18 L * *"  # the 1st, 02:00 CST
    assert schedule.utc_cron(0, 9, day_of_month=1, zone=shanghai) == "0 1 1 * *"
    assert schedule.utc_cron(2, zone=shanghai) == "2 * * * *"
    with pytest.raises(ValueError, match="daylight saving"):
        schedule.utc_cron(0, 3, zone=ZoneInfo("Europe/Berlin"))


def test_rq_cron_loads_every_periodic_job_from_the_schedule_file():
    from rq.cron import CronScheduler

    cron = CronScheduler(connection=get_redis())
    cron.load_config_from_file(app_cron.cron_config_path())
    registered = {job.name: job for job in cron.get_jobs()}
    assert set(registered) == {name for name, _ in schedule.PERIODIC}
    assert registered["expire_points_lots"].cron == "5 16 * * *"
    assert registered["expire_points_lots"].queue_name == "expiry"
    assert registered["grant_monthly_packs"].kwargs == {"name": "grant_monthly_packs"}
    assert all(job.func_name == "app.jobs.scheduled" for job in registered.values())
    needed = {"activate_pending_points", "expire_points_lots", "expire_coupons", "grant_birthday_gifts",
              "grant_monthly_packs", "review_tiers", "expire_vips", "remind_expiring_points",
              "remind_expiring_coupons", "rollup_daily"}
    assert needed <= set(registered)


def test_every_declared_job_path_names_a_function():
    import importlib

    for name, spec in schedule.JOBS.items():
        module_name, _, func_name = spec.path.rpartition(".")
        assert callable(getattr(importlib.import_module(module_name), func_name, None)), name
        assert spec.queue in schedule.QUEUE_NAMES, name


def test_every_job_records_its_runs_under_its_own_name(app):
    """GET /admin/jobs?job=NAME and `flask jobs run NAME` speak of the same job."""
    runner = app.test_cli_runner()
    for name in schedule.JOBS:
        result = runner.invoke(args=["jobs", "run", name])
        assert result.exit_code == 0, (name, result.output)
        db.session.expire_all()
        assert db.session.scalar(select(JobRun.job).order_by(JobRun.id.desc()).limit(1)) == name
