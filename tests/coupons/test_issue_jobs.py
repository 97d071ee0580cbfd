"""Targeted issues on RQ: deterministic job id, retries with the project's backoff, the job-runs record,
failures written on the issue, and a re-posted key queueing an issue that is not done."""
from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from app import jobs as job_runtime
from app.extensions import db
from app.job_runs.models import JobRun
from app.redis_store import get_redis
from coupons.models import Coupon, CouponIssue
from marketing import issues, jobs
from tests.coupons.helpers import members, template


def _post(client, marketing, template_id: int, body: dict):
    return client.post(f"/api/v1/admin/coupon-templates/{template_id}/issue", json=body, headers=marketing)


def _grants() -> Queue:
    return Queue("grants", connection=get_redis())


def _work() -> None:
    SimpleWorker([_grants()], connection=get_redis()).work(burst=True, with_scheduler=False)


def _issue(issue_id: int) -> CouponIssue:
    db.session.expire_all()
    return db.session.get(CouponIssue, issue_id)


@pytest.fixture
def no_backoff(monkeypatch):
    monkeypatch.setattr(job_runtime, "RETRY_INTERVALS", [0, 0, 0])  # the real backoff is 10 s, 60 s, 300 s


@pytest.fixture
def faulty_batches(monkeypatch):
    """Make the first `fail` batches raise; returns the list of (state, error) the issue had at each call."""
    real = issues._issue_batch
    seen: list[tuple[str, str | None]] = []
    plan = {"fail": 0}

    def batch(issue_id: int, batch_size: int):
        issue = db.session.get(CouponIssue, issue_id)
        seen.append((issue.state, issue.error))
        if len(seen) <= plan["fail"]:
            raise RuntimeError(f"database went away (call {len(seen)})")
        return real(issue_id, batch_size)

    monkeypatch.setattr(issues, "_issue_batch", batch)

    def arm(fail: int) -> list[tuple[str, str | None]]:
        plan["fail"] = fail
        seen.clear()
        return seen

    return arm


def test_enqueue_has_a_deterministic_id_and_the_project_retries():
    t = template(claimable=False)
    issue, _ = issues.create_issue(t.id, {"member_ids": members(2)}, "k", None)
    assert issues.enqueue_issue(issue.id) is True
    assert issues.enqueue_issue(issue.id) is False  # the same issue is not queued twice
    assert _grants().job_ids == [f"coupon-issue-{issue.id}"]
    job = _grants().jobs[0]
    assert job.func_name == "marketing.jobs.issue_coupons" and job.kwargs == {"issue_id": issue.id}
    assert (job.retries_left, job.retry_intervals) == (job_runtime.MAX_RETRIES, job_runtime.RETRY_INTERVALS)


def test_a_worker_run_is_recorded_as_issue_coupons_and_listed(client, marketing):
    t = template(claimable=False)
    ids = members(3)
    issue = _post(client, marketing, t.id, {"audience": {"member_ids": ids}, "key": "spring"}).get_json()
    _work()
    assert _issue(issue["id"]).state == "done"
    listed = client.get("/api/v1/admin/jobs?job=issue_coupons", headers=marketing)
    assert listed.status_code == 200
    [run] = listed.get_json()["items"]
    assert (run["state"], run["rq_job_id"], run["run_key"], run["attempt"]) == (
        "succeeded", f"coupon-issue-{issue['id']}", f"issue-{issue['id']}", 1)
    assert run["counts"] == {"scanned": 3, "changed": 3, "skipped": 0, "failed": 0}


def test_a_failed_try_keeps_the_issue_running_with_its_error_until_a_retry_finishes(
        client, marketing, no_backoff, faulty_batches):
    seen = faulty_batches(fail=1)
    t = template(claimable=False)
    issue = _post(client, marketing, t.id, {"audience": {"member_ids": members(2)}, "key": "k"}).get_json()
    _work()
    assert seen[1] == ("running", "job failed: RuntimeError: database went away (call 1)")  # what a poller saw
    runs = db.session.scalars(select(JobRun).order_by(JobRun.id)).all()
    assert [(r.job, r.attempt, r.state) for r in runs] == [("issue_coupons", 1, "failed"),
                                                          ("issue_coupons", 2, "succeeded")]
    done = _issue(issue["id"])
    assert (done.state, done.issued, done.error) == ("done", 2, None)


def test_after_the_last_try_the_issue_is_failed_and_a_repost_queues_it_again(
        client, marketing, no_backoff, faulty_batches):
    faulty_batches(fail=99)
    t = template(claimable=False)
    ids = members(3)
    body = {"audience": {"member_ids": ids}, "key": "k"}
    issue = _post(client, marketing, t.id, body).get_json()
    _work()
    job_id = f"coupon-issue-{issue['id']}"
    assert job_id in FailedJobRegistry("grants", connection=get_redis()).get_job_ids()
    assert db.session.scalar(select(db.func.count()).select_from(JobRun)) == 1 + job_runtime.MAX_RETRIES
    progress = client.get(f"/api/v1/admin/coupon-templates/{t.id}/issues/{issue['id']}", headers=marketing)
    assert progress.get_json()["state"] == "failed"
    assert progress.get_json()["error"].startswith("job failed: RuntimeError: database went away")

    faulty_batches(fail=0)
    again = _post(client, marketing, t.id, body)
    assert again.status_code == 202 and again.get_json()["id"] == issue["id"]
    assert again.get_json()["state"] == "queued"
    assert _grants().job_ids == [job_id]
    assert FailedJobRegistry("grants", connection=get_redis()).get_job_ids() == []
    _work()
    done = _issue(issue["id"])
    assert (done.state, done.issued, done.error) == ("done", 3, None)
    assert sorted(db.session.scalars(select(Coupon.member_id))) == ids


def test_outside_rq_a_failure_is_final(faulty_batches):
    faulty_batches(fail=99)
    t = template(claimable=False)
    issue, _ = issues.create_issue(t.id, {"member_ids": members(1)}, "k", None)
    with pytest.raises(RuntimeError):
        issues.run_issue(issue.id, last_try=False)
    assert (_issue(issue.id).state, _issue(issue.id).error[:30]) == ("running", "job failed: RuntimeError: data")
    with pytest.raises(RuntimeError):
        jobs.issue_coupons(issue.id)  # no RQ job around it: this try is the last
    assert _issue(issue.id).state == "failed"


def test_a_repost_queues_an_issue_whose_enqueue_failed_after_the_commit(client, marketing, monkeypatch):
    t = template(claimable=False)
    body = {"audience": {"member_ids": members(2)}, "key": "redis-down"}

    def down(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    with monkeypatch.context() as patched:
        patched.setattr(Queue, "enqueue", down)
        first = _post(client, marketing, t.id, body)
    assert first.status_code == 503 and first.get_json()["error"]["code"] == "coupon_issue_not_queued"
    [issue] = db.session.scalars(select(CouponIssue)).all()
    assert issue.state == "queued" and _grants().count == 0
    again = _post(client, marketing, t.id, body)
    assert again.status_code == 202 and again.get_json()["id"] == issue.id
    assert _grants().job_ids == [f"coupon-issue-{issue.id}"]
    assert _post(client, marketing, t.id, body).status_code == 202
    assert _grants().count == 1  # queued already: not doubled
