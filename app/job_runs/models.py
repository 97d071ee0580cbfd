"""One row per attempt of a job (a retried RQ job writes one row per try, so the history shows each failure)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db_types import UTCDateTime
from app.extensions import db


class JobRun(db.Model):
    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_id", "job", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    run_key: Mapped[str | None] = mapped_column(String(64))  # the business date (or hour) the run is for
    rq_job_id: Mapped[str | None] = mapped_column(String(128), index=True)
    attempt: Mapped[int] = mapped_column(default=1)
    state: Mapped[str] = mapped_column(String(16), default="running")  # running | succeeded | failed
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scanned: Mapped[int] = mapped_column(default=0)
    changed: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)

    @property
    def counts(self) -> dict:
        return {"scanned": self.scanned, "changed": self.changed, "skipped": self.skipped, "failed": self.failed}
