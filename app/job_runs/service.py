"""Recording job runs on their own connection, so a run's row is written even when the job's own
transaction is rolled back or the process dies mid-batch (the row then stays `running`)."""
from __future__ import annotations

from sqlalchemy import func, insert, select, update

from app import clock
from app.extensions import db
from app.job_runs.models import JobRun
from app.pagination import keyset_page


def start(job: str, run_key: str | None, rq_job_id: str | None, attempt: int = 1) -> int:
    with db.engine.begin() as conn:
        return conn.execute(
            insert(JobRun).values(job=job, run_key=run_key, rq_job_id=rq_job_id, attempt=attempt, state="running",
                                  started_at=clock.now(), scanned=0, changed=0, skipped=0, failed=0)
            .returning(JobRun.id)
        ).scalar_one()


def progress(run_id: int, counts: dict) -> None:
    with db.engine.begin() as conn:
        conn.execute(update(JobRun).where(JobRun.id == run_id).values(**counts))


def finish(run_id: int, counts: dict, error: str | None = None) -> None:
    with db.engine.begin() as conn:
        conn.execute(update(JobRun).where(JobRun.id == run_id).values(
            state="failed" if error else "succeeded", finished_at=clock.now(), error=error, **counts))


def search(filters: dict, limit: int, cursor: str | None) -> dict:
    stmt = select(JobRun)
    if filters.get("job"):
        stmt = stmt.where(JobRun.job == filters["job"])
    if filters.get("state"):
        stmt = stmt.where(JobRun.state == filters["state"])
    return keyset_page(stmt, JobRun.id, limit, cursor)


def latest_by_job() -> dict[str, JobRun]:
    """The newest run of every job (what an operator checks first)."""
    newest = select(func.max(JobRun.id)).group_by(JobRun.job)
    return {run.job: run for run in db.session.scalars(select(JobRun).where(JobRun.id.in_(newest)))}
