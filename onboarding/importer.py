"""The import of existing customers: batches, chunks and resuming (issue 19, cold start).

A run reads its file as a stream and writes it in chunks of CHUNK rows, each chunk one transaction with the
batch's progress: killed at any moment, the batch has written whole chunks only, and `rows_done` says where to
go on. Re-running the same file (same sha256) resumes its unfinished batch after `rows_done`; a member is
keyed by the brand's external id (unique in `members`) and opens their points once (`opening:<member id>` in
the ledger), so even a run that starts over from row 1 skips whom it already wrote and never doubles a balance.

A chunk is set-based: a few SELECTs find what the database refuses (external id already imported: skipped;
phone, unionid or openid already someone else's: refused), then one INSERT per table for the whole chunk
(members, identities, tags, tier history, points accounts, entries and lots), not one ORM object per row.
A bad row is left out whole and reported (row number, field, reason); a dry run does every check and writes
only the batch and its report.

Nothing is announced: imported customers get no new-member coupons, no "points credited" message and no
tier-upgrade message; they are old customers, not new ones.
"""
from __future__ import annotations

import io
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from flask import current_app
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app import clock
from app import jobs as job_runtime
from app.audit import service as audit
from app.errors import ApiError, Conflict, NotFound, ServiceUnavailable
from app.extensions import db
from app.fast_writes import insert_columns
from app.pagination import keyset_page
from app.redis_store import get_redis
from app.sql import any_of, custom_plans, default_plans, insert_many
from members.models import Member, MemberIdentity, MemberTag
from members.service import new_invite_code
from onboarding import rows
from onboarding.models import ImportBatch, ImportFileChunk, ImportRowError
from points import ledger
from tiers.growth import opening_tiers, record_openings
from tiers.ladder import ladder_copy

log = logging.getLogger(__name__)

CHUNK = 2000  # rows per transaction: a few statements per chunk whatever its size
CHUNK_RETRIES = 3  # a chunk that lost a race (an invite code clash, a phone bound meanwhile) is checked again
FILE_PIECE = 1024 * 1024  # an upload is kept in pieces of this size (import_file_chunks)
MAX_UPLOAD_BYTES = 256 * 1024 * 1024  # about 2 million rows of a typical export
CAUSE = "import_batch"  # the ledger's cause_type of an opening balance; cause_id is the batch id
_MEMBER_COLUMNS = insert_columns(Member.__table__)


# --- batches ----------------------------------------------------------------------------------------------

def get_batch(batch_id: int) -> ImportBatch:
    batch = db.session.get(ImportBatch, batch_id)
    if batch is None:
        raise NotFound(f"Import batch {batch_id} does not exist.", code="import_batch_not_found")
    return batch


def _resumable(fingerprint: str, source: str) -> ImportBatch | None:
    return db.session.scalar(
        select(ImportBatch).where(ImportBatch.fingerprint == fingerprint, ImportBatch.dry_run.is_(False),
                                  ImportBatch.source == source, ImportBatch.state != "done")
        .order_by(ImportBatch.id.desc()).limit(1))


def open_file_batch(stream: IO[bytes], filename: str, fmt: str | None, *, dry_run: bool,
                    source: str = "cli", operator_id: int | None = None) -> tuple[ImportBatch, bool]:
    """The batch for a file: the unfinished one of the same file (resumed; returns True), else a new one.
    A dry run is always a new batch. The stream is read once here (fingerprint, rows, UTF-8) and rewound."""
    fmt = rows.file_format(filename, fmt)
    facts = rows.scan(stream, fmt)
    stream.seek(0)
    rows.check_header(stream, fmt)
    stream.seek(0)
    if not dry_run:
        found = _resumable(facts.fingerprint, source)
        if found is not None:
            db.session.commit()
            return found, True
    batch = ImportBatch(filename=filename[-255:] or "upload", file_format=fmt, fingerprint=facts.fingerprint,
                        size_bytes=facts.size_bytes, rows_total=facts.rows_total, source=source, dry_run=dry_run,
                        state="queued", rows_done=0, imported=0, skipped=0, failed=0, points=0,
                        created_by_id=operator_id, created_at=clock.now())
    db.session.add(batch)
    db.session.flush()
    if source == "upload":
        _store(batch.id, stream)
    audit.record("member_import.create", "import_batch", batch.id, None,
                 {"filename": batch.filename, "fingerprint": batch.fingerprint, "rows_total": batch.rows_total,
                  "dry_run": dry_run, "source": source})
    db.session.commit()
    return batch, False


def _store(batch_id: int, stream: IO[bytes]) -> None:
    """Keep an uploaded file in the database, a megabyte per row, for whichever worker runs the batch."""
    seq = 0
    while piece := stream.read(FILE_PIECE):
        db.session.add(ImportFileChunk(batch_id=batch_id, seq=seq, data=piece))
        db.session.flush()
        seq += 1


class _StoredFile(io.RawIOBase):
    """An uploaded file read back from import_file_chunks, one piece at a time (constant memory), each piece by
    a short transaction of its own: the run's reader thread must not hold one open while the writer writes (on
    SQLite any transaction holds the write lock)."""

    def __init__(self, batch_id: int):
        self.batch_id, self.seq, self.buffer = batch_id, 0, b""

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        if not self.buffer:
            with db.engine.connect() as connection:
                piece = connection.scalar(select(ImportFileChunk.data).where(
                    ImportFileChunk.batch_id == self.batch_id, ImportFileChunk.seq == self.seq))
            if piece is None:
                return 0
            self.buffer, self.seq = bytes(piece), self.seq + 1
        size = min(len(target), len(self.buffer))
        target[:size] = self.buffer[:size]
        self.buffer = self.buffer[size:]
        return size


def stored_file(batch_id: int) -> IO[bytes]:
    return io.BufferedReader(_StoredFile(batch_id), buffer_size=FILE_PIECE)


class BatchBusy(Conflict):
    code = "import_batch_busy"


# --- uploads (the API and the console) ----------------------------------------------------------------------

def upload(stream: IO[bytes], filename: str, fmt: str | None, *, dry_run: bool,
           operator_id: int | None) -> ImportBatch:
    """An uploaded file becomes a batch run by a worker (RQ `grants` queue); poll the batch for progress.
    Uploading the same file again while its batch is unfinished resumes that batch (queued again unless a
    job for it is live), so a worker killed mid-way loses nothing and doubles nothing. Queueing happens after
    the commit: Redis failing leaves a recorded batch, and the client is told (503) to upload again."""
    batch, _ = open_file_batch(stream, filename, fmt, dry_run=dry_run, source="upload", operator_id=operator_id)
    try:
        enqueue(batch.id)
    except RedisError:
        log.exception("import batch %s recorded but not queued", batch.id)
        raise ServiceUnavailable(f"Import batch {batch.id} is recorded but could not be queued; upload the same "
                                 "file again to queue it.", code="import_not_queued") from None
    return batch


def job_id(batch_id: int) -> str:
    return f"member-import-{batch_id}"


def enqueue(batch_id: int) -> bool:
    """Queue the batch's run unless a job for it is queued, running or waiting for a retry (False then)."""
    connection = get_redis()
    try:
        previous = Job.fetch(job_id(batch_id), connection=connection)
    except NoSuchJobError:
        previous = None
    if previous is not None:
        if previous.get_status() in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
            return False
        previous.delete()
    job_runtime.enqueue_on_demand("import_members", job_id=job_id(batch_id), run_key=f"import-{batch_id}",
                                  connection=connection, batch_id=batch_id)
    return True


def run_upload(batch_id: int) -> dict:
    """The job's work: the batch over its stored file, each chunk reported to the job's run as it commits."""
    def report(progress: Progress) -> None:
        job_runtime.batch_done({"scanned": progress.rows_done, "changed": progress.imported,
                                "skipped": progress.skipped, "failed": progress.failed}, progress.rows_total)

    batch = run(batch_id, stored_file(batch_id), on_chunk=report)
    return {"scanned": batch.rows_done, "changed": batch.imported, "skipped": batch.skipped, "failed": batch.failed}


# --- running ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Progress:
    """A batch's figures as its last chunk committed them."""

    rows_done: int
    rows_total: int
    imported: int
    skipped: int
    failed: int


@dataclass
class _Counts:
    imported: int = 0
    skipped: int = 0
    failed: int = 0
    points: int = 0


def context() -> rows.Context:
    """What every row of a run is checked against: the ladder's codes, today, the policy's expiry."""
    now = clock.now()
    return rows.Context(tier_codes=frozenset(tier.code for tier in ladder_copy()), now=now,
                        today=clock.business_today(), default_expiry=ledger.expiry_for(now))


def run(batch_id: int, stream: IO[bytes], *, chunk_size: int = CHUNK,
        on_chunk: Callable[[Progress], None] | None = None) -> ImportBatch:
    """Run (or resume) a batch over its file: rows up to `rows_done` are read past, the rest checked and
    written a chunk per transaction; `on_chunk` hears each committed chunk (the CLI's progress bar). A file
    refused as a whole (its header) fails the batch with the reason and raises it.

    The file is read and checked by a second thread, a chunk or two ahead, while this one waits for the
    database: reading and checking a row costs about as much CPU as the database's writing it, so the two
    overlap instead of taking turns (the checks touch no database; the writer alone has a session)."""
    batch = get_batch(batch_id)
    if batch.state == "done":
        return batch
    batch.state, batch.error = "running", None
    batch.started_at = batch.started_at or clock.now()
    fmt, done, dry_run = batch.file_format, batch.rows_done, batch.dry_run
    ctx = context()
    db.session.commit()  # no transaction left open while the reader reads (an upload's pieces: from the database)
    reader = _Reader(current_app._get_current_object(), stream, fmt, done, ctx, chunk_size)
    try:
        for items in reader.chunks():
            _write_chunk(batch_id, items, dry_run, on_chunk)
    except BatchBusy:
        db.session.rollback()  # the other run owns the batch: its state is not ours to change
        raise
    except ApiError as error:
        db.session.rollback()
        _fail(batch_id, error.message)
        raise
    except Exception as error:
        db.session.rollback()
        _fail(batch_id, f"{type(error).__name__}: {error}"[:2000])
        raise
    finally:
        reader.stop()
    batch = get_batch(batch_id)
    batch.state, batch.finished_at = "done", clock.now()
    batch.rows_total = max(batch.rows_total, batch.rows_done)
    if batch.source == "upload":
        db.session.execute(delete(ImportFileChunk).where(ImportFileChunk.batch_id == batch_id))
    db.session.commit()
    return batch


class _Reader:
    """Reads and checks the rows after `done` on a thread of its own (with the app's context, for the business
    time zone), handing over chunks through a short queue; an error it meets is raised by `chunks`."""

    def __init__(self, app, stream: IO[bytes], fmt: str, done: int, ctx: rows.Context, chunk_size: int):
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(app, stream, fmt, done, ctx, chunk_size),
                                       name="import-reader", daemon=True)
        self.thread.start()

    def _read(self, app, stream, fmt: str, done: int, ctx: rows.Context, chunk_size: int) -> None:
        with app.app_context():
            try:
                pending: list[rows.Row | rows.Refused] = []
                for number, raw, problem in rows.read(stream, fmt):
                    if number <= done:
                        continue
                    pending.append(rows.Refused(number, None, [("row", problem)]) if raw is None
                                   else rows.check(number, raw, ctx))
                    if len(pending) >= chunk_size:
                        if not self._put(pending):
                            return
                        pending = []
                if pending and not self._put(pending):
                    return
                self._put(None)
            except BaseException as error:  # handed to the writer, which raises it in its own thread
                self._put(error)

    def _put(self, item) -> bool:
        while not self.stopped.is_set():
            try:
                self.queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def chunks(self) -> Iterator[list[rows.Row | rows.Refused]]:
        while True:
            item = self.queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)


def _fail(batch_id: int, reason: str) -> None:
    batch = get_batch(batch_id)
    batch.state, batch.error = "failed", reason
    db.session.commit()


def _write_chunk(batch_id: int, items: list[rows.Row | rows.Refused], dry_run: bool,
                 on_chunk: Callable[[Progress], None] | None) -> None:
    for attempt in range(CHUNK_RETRIES):
        try:
            batch = _chunk(batch_id, items, dry_run)
            progress = Progress(batch.rows_done, batch.rows_total, batch.imported, batch.skipped, batch.failed)
            db.session.commit()
            break
        except IntegrityError:
            db.session.rollback()
            log.info("import batch %s: chunk at row %s lost a race; checking it again", batch_id, items[0].number)
            if attempt == CHUNK_RETRIES - 1:
                raise
    if on_chunk is not None:  # told what was committed, read before the commit: no read (no transaction) here
        on_chunk(progress)


def _lock_batch(batch_id: int) -> ImportBatch:
    return db.session.scalar(select(ImportBatch).where(ImportBatch.id == batch_id).with_for_update()
                             .execution_options(populate_existing=True))


def _chunk(batch_id: int, items: list[rows.Row | rows.Refused], dry_run: bool) -> ImportBatch:
    """One chunk in the caller's transaction: refuse what the database refuses, write the rest, record the
    refusals and the progress. Two runs of one batch cannot both write a chunk: the batch row is locked and
    its `rows_done` must still be below the chunk."""
    batch = _lock_batch(batch_id)
    if batch.rows_done >= items[0].number:
        raise BatchBusy(f"Import batch {batch_id} is being run by another process.")
    good = [item for item in items if isinstance(item, rows.Row)]
    refused = [item for item in items if isinstance(item, rows.Refused)]
    good, skipped, more_refused = _against_database(good)
    refused += more_refused
    counts = _Counts(imported=len(good), skipped=skipped, failed=len(refused),
                     points=sum(row.points for row in good))
    if good and not dry_run:
        _write(batch_id, good)
    insert_many(ImportRowError.__table__, [
        {"batch_id": batch_id, "row_number": item.number, "external_id": item.external_id, "field": name[:32],
         "reason": reason[:255]} for item in sorted(refused, key=lambda r: r.number) for name, reason in item.errors])
    batch.rows_done = items[-1].number
    batch.imported += counts.imported
    batch.skipped += counts.skipped
    batch.failed += counts.failed
    batch.points += counts.points
    return batch


def _first_of(values: Iterable[tuple[rows.Row, str | None]], field: str,
              refused: dict[int, rows.Refused]) -> None:
    """Refuse a row whose `field` repeats an earlier row's of the same chunk."""
    seen: dict[str, int] = {}
    for row, value in values:
        if value is None:
            continue
        if value in seen:
            _refuse(refused, row, field, f"repeats row {seen[value]}")
        else:
            seen[value] = row.number


def _refuse(refused: dict[int, rows.Refused], row: rows.Row, field: str, reason: str) -> None:
    refused.setdefault(row.number, rows.Refused(row.number, row.external_id, [])).errors.append((field, reason))


def _against_database(good: list[rows.Row]) -> tuple[list[rows.Row], int, list[rows.Refused]]:
    """Split checked rows into (to write, how many were already imported, refused): an external id already
    in `members` is skipped (the resume); a phone, unionid or openid that is someone else's, or repeated
    within the chunk, refuses the row. One SELECT per kind of key for the whole chunk."""
    if not good:
        return [], 0, []
    custom_plans()  # the look-ups by arrays of keys, planned for their values
    known = set(db.session.scalars(select(Member.external_id).where(
        any_of(Member.external_id, [row.external_id for row in good]))))
    fresh = [row for row in good if row.external_id not in known]
    refused: dict[int, rows.Refused] = {}
    _first_of(((row, row.external_id) for row in fresh), "external_id", refused)
    _first_of(((row, row.phone) for row in fresh), "phone", refused)
    _first_of(((row, row.unionid) for row in fresh), "unionid", refused)
    _first_of(((row, row.openid) for row in fresh), "openid", refused)
    phones = [row.phone for row in fresh if row.phone]
    taken_phones = set(db.session.scalars(select(Member.phone).where(any_of(Member.phone, phones)))) if phones \
        else set()
    app_id = current_app.config["WECHAT_APPID"]
    taken = {kind: _taken_identities(kind, app, [getattr(row, kind) for row in fresh if getattr(row, kind)])
             for kind, app in (("unionid", ""), ("openid", app_id))}
    default_plans()  # the INSERTs' per-row foreign-key checks keep their cached plans
    for row in fresh:
        if row.phone in taken_phones:
            _refuse(refused, row, "phone", "already bound to another member")
        for kind in ("unionid", "openid"):
            if getattr(row, kind) in taken[kind]:
                _refuse(refused, row, kind, "already another member's")
    return [row for row in fresh if row.number not in refused], len(good) - len(fresh), list(refused.values())


def _taken_identities(kind: str, app_id: str, values: list[str]) -> set[str]:
    if not values:
        return set()
    return set(db.session.scalars(select(MemberIdentity.value).where(
        MemberIdentity.kind == kind, MemberIdentity.app_id == app_id, any_of(MemberIdentity.value, values))))


def _write(batch_id: int, good: list[rows.Row]) -> None:
    """The members of a chunk and everything they bring, one INSERT per table."""
    now = clock.now()
    tiers = {}
    member_rows = []
    openings = opening_tiers([(row.tier, row.growth) for row in good], clock.business_today())
    for row, (tier, review_on) in zip(good, openings, strict=True):
        tiers[row.external_id] = tier
        values = dict.fromkeys(_MEMBER_COLUMNS)
        values.update(
            nickname=row.name, gender=row.gender, birthday=row.birthday, phone=row.phone,
            tier_id=tier.id if tier else None, growth=row.growth, purchase_count=0, code_nonce=0,
            tier_period_start=now if tier else None, tier_review_on=review_on,
            vip_until=row.vip_until, invite_code=new_invite_code(), source_channel=row.source_channel,
            external_id=row.external_id, created_at=row.joined_at or now)
        member_rows.append(values)
    ids = dict((external_id, member_id) for member_id, external_id in insert_many(
        Member.__table__, member_rows, returning=("id", "external_id")))
    app_id = current_app.config["WECHAT_APPID"]
    insert_many(MemberIdentity.__table__, [
        {"member_id": ids[row.external_id], "kind": kind, "app_id": app, "value": value, "created_at": now}
        for row in good for kind, app, value in (("unionid", "", row.unionid), ("openid", app_id, row.openid))
        if value])
    insert_many(MemberTag.__table__, [
        {"member_id": ids[row.external_id], "tag": tag, "source": source, "created_at": now}
        for row in good
        for tag, source in ([(t, "manual") for t in row.tags]
                            + ([(f"channel:{row.source_channel}", "auto")] if row.source_channel else []))])
    record_openings([(ids[row.external_id], tiers[row.external_id].id if tiers[row.external_id] else None,
                      row.growth) for row in good], ref=f"import:{batch_id}")
    ledger.open_balances({ids[row.external_id]: [ledger.OpeningLot(lot.amount, lot.expires_at) for lot in row.lots]
                          for row in good if row.lots}, cause_type=CAUSE, cause_id=batch_id)


# --- reading the report -----------------------------------------------------------------------------------

def errors_page(batch_id: int, limit: int, cursor: str | None) -> dict:
    """A batch's refusals in row order (keyset by id, which follows the rows)."""
    get_batch(batch_id)
    return keyset_page(select(ImportRowError).where(ImportRowError.batch_id == batch_id), ImportRowError.id, limit,
                       cursor, newest_first=False)


def all_errors(batch_id: int, page: int = 5000) -> Iterable[ImportRowError]:
    """Every refusal of a batch, a page at a time (the CLI's report file)."""
    last = 0
    while True:
        found = list(db.session.scalars(select(ImportRowError).where(
            ImportRowError.batch_id == batch_id, ImportRowError.id > last).order_by(ImportRowError.id).limit(page)))
        if not found:
            return
        yield from found
        last = found[-1].id


def batches_page(limit: int, cursor: str | None) -> dict:
    return keyset_page(select(ImportBatch), ImportBatch.id, limit, cursor)


def percent(batch: ImportBatch) -> int:
    """How far a batch is, for the progress bars (100 once done)."""
    if batch.state == "done":
        return 100
    return min(99, batch.rows_done * 100 // batch.rows_total) if batch.rows_total else 0
