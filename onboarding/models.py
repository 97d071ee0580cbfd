"""Import batches, the files uploaded for them, and the rows they refused.

- `ImportBatch`: one run over one file (or its dry run), with its progress: `rows_done` is the last data row
  whose chunk was committed, so a killed run resumes after it; the counts are those of the committed chunks.
- `ImportFileChunk`: an uploaded file kept in the database in pieces, so whichever worker runs the batch can
  stream it (no shared disk between the API and the workers).
- `ImportRowError`: one refusal of one field of one row (row number, field, reason), written in the same
  transaction as the chunk it belongs to.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db_types import UTCDateTime
from app.extensions import db

BATCH_STATES = ("queued", "running", "done", "failed")


class ImportBatch(db.Model):
    __tablename__ = "import_batches"
    __table_args__ = (Index("ix_import_batches_fingerprint", "fingerprint", "dry_run", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(8))  # csv | jsonl
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the file: a re-run of the same file resumes
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    rows_total: Mapped[int]  # data rows (lines) counted before the run: the progress bar's end
    source: Mapped[str] = mapped_column(String(8))  # cli | upload (an upload's bytes are in import_file_chunks)
    dry_run: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    rows_done: Mapped[int] = mapped_column(default=0)
    imported: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)  # external id already here (an earlier batch, run or row)
    failed: Mapped[int] = mapped_column(default=0)  # rows refused (see import_row_errors)
    points: Mapped[int] = mapped_column(BigInteger, default=0)  # opening points written (or that would be)
    error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ImportFileChunk(db.Model):
    __tablename__ = "import_file_chunks"

    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ImportRowError(db.Model):
    __tablename__ = "import_row_errors"
    __table_args__ = (Index("ix_import_row_errors_batch_row", "batch_id", "row_number", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id"))
    row_number: Mapped[int]  # 1 = the first data row (a CSV's header is not counted)
    external_id: Mapped[str | None] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(255))
