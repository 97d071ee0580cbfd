"""Delivering the outbox: RQ drains (queue `webhooks`) POST each due delivery, signed, and record the outcome.

At least once: a drain leases a batch of due deliveries (state pending, next attempt due, no live lease) with
one conditional UPDATE (PostgreSQL: the rows are picked FOR UPDATE SKIP LOCKED, so two drains take different
rows) and commits before sending; a drain killed mid-batch leaves its rows leased, and they are due again when
the lease ends (LEASE, longer than a batch can take), so an event a receiver may have got is sent again
rather than lost. Receivers de-duplicate by the event id (the `id` field and the X-Webhook-Id header).

Order: deliveries are taken oldest event first, but a batch's POSTs run SEND_CONCURRENCY at a time, two
drains run side by side, and a failed delivery waits for its retry while later events go on. So the order
per member is NOT kept: a receiver orders by the event id (increasing with commit order per event source) or
`time`, and treats each event as a fact about its moment, not as the latest state.

Retries: RETRY_SCHEDULE, about 26 hours of exponential backoff, then the delivery is `failed` (an admin can
redeliver it). An endpoint that failed every delivery for WEBHOOK_PAUSE_AFTER (default 24 h) is paused: its
new events are still recorded but nothing is sent until an admin resumes it. Retries are due in the table;
each drain that leaves some waiting asks RQ's scheduler for a drain at the earliest, and an hourly sweep
requests a drain whenever anything is due (a lost request, a lease ended by a killed worker).

The signature: X-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>, with a
second v1 for the previous secret during a rotation's grace period (docs/webhooks.md).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import urllib3
from flask import current_app
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from app import clock
from app import jobs as job_runtime
from app.api_keys import secrets
from app.extensions import db
from app.redis_store import get_redis
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from webhooks.outbox import TO_SEND

log = logging.getLogger(__name__)

PURPOSE, PREFIX = "webhook", "whsec_"
BATCH_SIZE = 500
SEND_CONCURRENCY = 16  # POSTs in flight per drain
LEASE = timedelta(minutes=10)  # > a batch's worst case: BATCH_SIZE / SEND_CONCURRENCY rounds of the timeout (32 x
# 10 s by default: lower WEBHOOK_TIMEOUT, never raise it past LEASE / 32)
# Wait before try n+1 after try n failed: 30 s doubling-ish up to 6 h, about 26 h in all, then `failed`.
RETRY_SCHEDULE = [timedelta(seconds=s) for s in (30, 120, 600, 1800, 3600, 7200, 14400, 21600, 21600, 21600)]
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
DRAIN_FLAG = "loyalty:webhooks:drain-requested:{slot}"
DRAIN_FLAG_TTL = 600
PARALLEL_DRAINS = 2  # drains requested side by side (one per worker of the `webhooks` queue)


def secret_of(salt: str) -> str:
    return secrets.derive(PURPOSE, salt, PREFIX)


def signature_header(signing_secrets: list[str], body: bytes, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    return ",".join([f"t={timestamp}"] + [
        "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest() for secret in signing_secrets])


# --- requesting drains ----------------------------------------------------------------------------------

def request_drain() -> None:
    """Queue a drain per free slot (at most PARALLEL_DRAINS wait, however many events are recorded): a slot's
    flag is taken here and dropped when its drain starts, so an event recorded after that has a drain after it."""
    try:
        redis = get_redis()
        for slot in range(PARALLEL_DRAINS):
            if redis.set(DRAIN_FLAG.format(slot=slot), "1", nx=True, ex=DRAIN_FLAG_TTL):
                job_runtime.enqueue_on_demand("deliver_webhooks", slot=slot)
    except Exception:  # noqa: BLE001 - Redis down: the change is committed and the hourly sweep requests it
        log.exception("could not request a webhook drain; the sweep will")


@event.listens_for(Session, "after_commit")
def _drain_after_commit(session: Session) -> None:
    if session.info.pop(TO_SEND, None):
        request_drain()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(TO_SEND, None)


# --- one batch --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claimed:
    id: int
    endpoint_id: int
    attempts: int
    url: str
    secrets: list[str]  # derived here, in the app context: the sending threads have none
    event_id: int
    body: bytes
    event_type: str


def _due(now: datetime):
    return ((WebhookDelivery.state == "pending") & (WebhookDelivery.next_attempt_at <= now)
            & (WebhookDelivery.leased_until.is_(None) | (WebhookDelivery.leased_until < now)))


def body_of(event_id: int, kind: str, created_at: datetime, data: dict) -> bytes:
    return json.dumps({"id": f"evt_{event_id}", "type": kind, "time": clock.as_utc(created_at).isoformat(),
                       "data": data}, ensure_ascii=False, separators=(",", ":")).encode()


def _claim(now: datetime, batch_size: int) -> list[Claimed]:
    """Lease the next due deliveries of active endpoints and read what to send; committed before any POST."""
    ids = list(db.session.scalars(
        select(WebhookDelivery.id).join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(_due(now), WebhookEndpoint.state == "active").order_by(WebhookDelivery.id).limit(batch_size)
        .with_for_update(of=WebhookDelivery, skip_locked=True)))
    if not ids:
        db.session.rollback()
        return []
    db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids), _due(now))
                       .values(leased_until=now + LEASE, attempts=WebhookDelivery.attempts + 1))
    rows = db.session.execute(
        select(WebhookDelivery.id, WebhookDelivery.endpoint_id, WebhookDelivery.attempts, WebhookEndpoint.url,
               WebhookEndpoint.salt, WebhookEndpoint.previous_salt, WebhookEndpoint.previous_valid_until,
               WebhookEvent.id.label("event_id"), WebhookEvent.type, WebhookEvent.data, WebhookEvent.created_at)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.id.in_(ids)).order_by(WebhookDelivery.id)).all()
    db.session.commit()
    claimed, derived = [], {}
    for row in rows:
        salts = [row.salt]
        if row.previous_salt and row.previous_valid_until and now < clock.as_utc(row.previous_valid_until):
            salts.append(row.previous_salt)
        for salt in salts:
            if salt not in derived:
                derived[salt] = secret_of(salt)
        claimed.append(Claimed(row.id, row.endpoint_id, row.attempts, row.url, [derived[s] for s in salts],
                               row.event_id, body_of(row.event_id, row.type, row.created_at, row.data), row.type))
    return claimed


_lock = threading.Lock()
_senders: dict[int, tuple[urllib3.PoolManager, ThreadPoolExecutor]] = {}


def _senders_of_process() -> tuple[urllib3.PoolManager, ThreadPoolExecutor]:
    """One keep-alive connection pool and one set of sending threads per process, kept across batches and
    drains (a forked work horse makes its own). urllib3 rather than requests: a POST costs half the CPU."""
    pid = os.getpid()
    with _lock:
        if pid not in _senders:
            _senders[pid] = (urllib3.PoolManager(maxsize=SEND_CONCURRENCY, block=False, retries=False),
                             ThreadPoolExecutor(max_workers=SEND_CONCURRENCY, thread_name_prefix="webhook"))
        return _senders[pid]


def _http() -> urllib3.PoolManager:
    return _senders_of_process()[0]


def _post(item: Claimed, timeout: float) -> tuple[bool, int | None, str | None]:
    headers = {"Content-Type": "application/json", "User-Agent": "loyalty-webhooks/1",
               "X-Webhook-Id": f"evt_{item.event_id}", "X-Webhook-Type": item.event_type,
               "X-Webhook-Signature": signature_header(item.secrets, item.body, int(clock.now().timestamp()))}
    options = {"body": item.body, "headers": headers, "redirect": False,
               "timeout": urllib3.Timeout(connect=min(timeout, 5.0), read=timeout)}
    try:
        try:
            response = _http().request("POST", item.url, **options)
        except urllib3.exceptions.ProtocolError:  # a kept-alive connection the receiver had just closed: once more
            response = _http().request("POST", item.url, **options)
    except urllib3.exceptions.NewConnectionError:  # refused, no route (urllib3 files it under timeouts)
        return False, None, "unreachable: connection refused"
    except urllib3.exceptions.TimeoutError:
        return False, None, f"no answer within {timeout:g} s"
    except urllib3.exceptions.HTTPError as exc:
        return False, None, f"unreachable: {type(exc).__name__}"
    if 200 <= response.status < 300:
        return True, response.status, None
    return False, response.status, f"HTTP {response.status}"


def _record(items: list[Claimed], outcomes: list[tuple[bool, int | None, str | None]], counts: dict) -> None:
    now = clock.now()
    delivered = [item.id for item, (ok, _, _) in zip(items, outcomes, strict=True) if ok]
    if delivered:
        db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(delivered)).values(
            state="delivered", delivered_at=now, leased_until=None, last_status=200, last_error=None))
    for item, (ok, status, error) in zip(items, outcomes, strict=True):
        if ok:
            if status != 200:
                db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id == item.id)
                                   .values(last_status=status))
            continue
        values = {"leased_until": None, "last_status": status, "last_error": error}
        if item.attempts >= MAX_ATTEMPTS:
            values["state"] = "failed"
        else:
            values["next_attempt_at"] = now + RETRY_SCHEDULE[item.attempts - 1]
        db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id == item.id).values(**values))
    _endpoint_health(items, outcomes, now)
    counts["scanned"] += len(items)
    counts["changed"] += len(delivered)
    counts["failed"] += len(items) - len(delivered)
    db.session.commit()


def _endpoint_health(items: list[Claimed], outcomes: list, now: datetime) -> None:
    """A success clears an endpoint's failing streak; failures only start one; a streak older than
    WEBHOOK_PAUSE_AFTER pauses the endpoint."""
    succeeded = {item.endpoint_id for item, (ok, _, _) in zip(items, outcomes, strict=True) if ok}
    failed = {item.endpoint_id for item, (ok, _, _) in zip(items, outcomes, strict=True) if not ok} - succeeded
    if succeeded:
        db.session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id.in_(succeeded),
                                                         WebhookEndpoint.failing_since.is_not(None))
                           .values(failing_since=None))
    if not failed:
        return
    db.session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id.in_(failed),
                                                     WebhookEndpoint.failing_since.is_(None))
                       .values(failing_since=now))
    pause_after = timedelta(seconds=int(current_app.config["WEBHOOK_PAUSE_AFTER"]))
    db.session.execute(update(WebhookEndpoint).where(
        WebhookEndpoint.id.in_(failed), WebhookEndpoint.state == "active",
        WebhookEndpoint.failing_since <= now - pause_after).values(
        state="paused", paused_at=now,
        pause_reason=f"every delivery failed for {pause_after.total_seconds() / 3600:g} h"))


def deliver_batch(batch_size: int = BATCH_SIZE, counts: dict | None = None) -> int:
    """Lease, send and record one batch; returns how many were taken (0: nothing is due)."""
    counts = counts if counts is not None else job_runtime.zero_counts()
    items = _claim(clock.now(), batch_size)
    if not items:
        return 0
    timeout = float(current_app.config["WEBHOOK_TIMEOUT"])
    outcomes = list(_senders_of_process()[1].map(lambda item: _post(item, timeout), items))
    _record(items, outcomes, counts)
    return len(items)


def drain(slot: int = 0, batch_size: int = BATCH_SIZE) -> dict:
    """Deliver every due delivery, batch after batch; then ask for a drain when the earliest retry is due."""
    try:
        get_redis().delete(DRAIN_FLAG.format(slot=slot))  # from now on a new event requests another drain
    except Exception:  # noqa: BLE001 - without Redis the drain still delivers; the sweep requests the next
        log.warning("could not drop the webhook drain flag")
    counts = job_runtime.zero_counts()
    while deliver_batch(batch_size, counts):
        job_runtime.batch_done(counts)
    _schedule_next_retry()
    return counts


def _schedule_next_retry() -> None:
    earliest = db.session.scalar(
        select(func.min(WebhookDelivery.next_attempt_at)).join(WebhookEndpoint).where(
            WebhookDelivery.state == "pending", WebhookEndpoint.state == "active"))
    db.session.rollback()
    if earliest is None:
        return
    at = max(clock.as_utc(earliest), clock.now())
    job_id = f"webhooks-retry-{int(at.timestamp()) // 30}"  # one scheduled drain per 30 s of retries
    try:
        if get_redis().set(f"loyalty:job-claim:{job_id}", "1", nx=True, ex=24 * 3600):
            job_runtime.enqueue_on_demand("deliver_webhooks", job_id=job_id, at=at, slot=PARALLEL_DRAINS)
    except Exception:  # noqa: BLE001 - the hourly sweep requests it
        log.warning("could not schedule the next webhook retry")


def sweep() -> dict:
    """Hourly: request drains if anything is due (a lost request, a lease a killed worker left)."""
    counts = job_runtime.zero_counts()
    due = db.session.scalar(select(func.count()).select_from(WebhookDelivery).join(WebhookEndpoint)
                            .where(_due(clock.now()), WebhookEndpoint.state == "active"))
    db.session.rollback()
    counts["scanned"] = int(due or 0)
    if due:
        for slot in range(PARALLEL_DRAINS):
            get_redis().delete(DRAIN_FLAG.format(slot=slot))
        request_drain()
        counts["changed"] = 1
    return counts
