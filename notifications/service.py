"""WeChat subscribe messages: recorded first, delivered in batches from the `notify` queue, at most once each.

A notification is a row keyed by a unique idempotency key, written in the transaction of its cause (a
tier change, a purchase) or by a reminder job's batch. Once that transaction commits, a drain of the table
is requested: at most one drain job waits in the queue however many messages are recorded (a Redis key
claimed with SET NX), so 100 purchases a second queue one job, not a hundred.

The drain claims a batch of due rows with one conditional UPDATE (pending, or retry whose time has come ->
sending, attempts + 1), commits, and only then calls WeChat, so two workers never send the same row and a
worker that dies mid-call leaves it `sending` rather than sending it again. The calls of a batch go out a few
at a time over one client (WeChat's send API takes one message per call); the outcomes are written back a
statement per outcome. 43101 (the member has not subscribed or refused) is remembered per (member,
template) and never retried; other errors put the row back to `retry` with its next attempt after the
job runner's backoff, and the drain raises at the end so RQ retries it; after the last attempt the row is
`failed` (and that drain job sits in the failed registry). New messages meanwhile start drains of their own:
a failing message blocks nothing.

Messages have a shelf life per kind (`NOTIFICATION_SHELF_LIFE`, seconds): "points credited" for a purchase
days old is news to nobody, so a row past it is marked `expired`, never sent.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
from flask import current_app
from sqlalchemy import event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatClientException

from app import clock, wechat
from app import jobs as job_runtime
from app.extensions import db
from app.redis_store import get_redis
from app.sql import insert_many
from members.models import MemberIdentity
from notifications.models import Notification, NotificationDecline

log = logging.getLogger(__name__)

DECLINED_ERRCODE = 43101
MAX_ATTEMPTS = 4  # the first try and RQ's three retries
DUE_STATES = ("pending", "retry")
DEFAULT_SHELF_LIFE = 24 * 3600
# A row waiting for another try is due a little before the drain's own RQ retry fires (the same backoff),
# so the retried drain finds it due; drains started by new messages meanwhile leave it alone.
RETRY_SLACK = timedelta(seconds=1)
SEND_CONCURRENCY = 8  # calls in flight to WeChat per drain: its API takes one message per call

# kind -> (config key of the template id, the mini-program page the message opens)
KINDS = {
    "points_credited": ("WECHAT_TEMPLATE_POINTS_CREDITED", "pages/points/index"),
    "points_expiring": ("WECHAT_TEMPLATE_POINTS_EXPIRING", "pages/points/index"),
    "coupon_expiring": ("WECHAT_TEMPLATE_COUPON_EXPIRING", "pages/coupons/index"),
    "tier_changed": ("WECHAT_TEMPLATE_TIER_CHANGED", "pages/member/index"),
    "redemption_ready": ("WECHAT_TEMPLATE_REDEMPTION_READY", "pages/redemptions/index"),
}
# Our data keys -> the template's keyword names (as chosen in the mini-program console's template library).
FIELDS = {
    "points_credited": {"points": "number1", "balance": "number2", "reason": "thing3"},
    "points_expiring": {"points": "number1", "expires_on": "date2"},
    "coupon_expiring": {"title": "thing1", "expires_on": "date2"},
    "tier_changed": {"tier": "thing1", "previous": "thing2"},
    "redemption_ready": {"item": "thing1", "store": "thing2"},
}


class DeliveryIncomplete(Exception):
    """Some notifications failed for a reason worth retrying: raised so RQ retries the delivery job."""


@dataclass
class Item:
    member_id: int
    key: str
    data: dict = field(default_factory=dict)


def template_for(kind: str) -> str:
    return current_app.config.get(KINDS[kind][0]) or ""


def _insert_rows(kind: str, items: list[Item]) -> list[int]:
    template = template_for(kind)
    if not template or not items:
        return []  # no template configured: this message is switched off
    now = clock.now()
    rows = [{"member_id": item.member_id, "kind": kind, "idempotency_key": item.key, "template_id": template,
             "data": item.data, "page": KINDS[kind][1], "state": "pending", "attempts": 0, "created_at": now}
            for item in items]
    return [row.id for row in insert_many(Notification.__table__, rows, ignore_conflicts=True, returning=("id",))]


def notify(member_id: int, kind: str, key: str, data: dict) -> None:
    """Record one message inside the caller's transaction (an event handler's); sent after it commits."""
    notify_many(kind, [Item(member_id, key, data)])


def notify_many(kind: str, items: list[Item]) -> None:
    """Record a batch's messages in one statement inside the caller's transaction; after it commits they
    are queued as one delivery job (create_many is the form that commits itself, for reminder jobs)."""
    ids = _insert_rows(kind, items)
    db.session.info.setdefault("notifications_to_send", []).extend(ids)


def create_many(kind: str, items: list[Item]) -> int:
    """A reminder job's batch: record the messages, commit, request a drain. Returns how many are new."""
    ids = _insert_rows(kind, items)
    db.session.commit()
    if ids:
        request_drain()
    return len(ids)


DRAIN_FLAG = "loyalty:notify:drain-requested"
DRAIN_FLAG_TTL = 600  # a lost drain job (Redis flushed, worker killed before it started) blocks nothing for long


def request_drain() -> None:
    """Queue a drain unless one is already waiting: the flag is taken here and dropped when a drain starts,
    so a message recorded after a drain's start always has a drain after it."""
    try:
        if get_redis().set(DRAIN_FLAG, "1", nx=True, ex=DRAIN_FLAG_TTL):
            job_runtime.enqueue_on_demand("deliver_notifications")
    except Exception:  # noqa: BLE001 - Redis down: the hourly sweep requests the drain
        log.exception("could not request a notification drain; the sweep will")


@event.listens_for(Session, "after_commit")
def _drain_after_commit(session: Session) -> None:
    if session.info.pop("notifications_to_send", None):
        request_drain()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop("notifications_to_send", None)


# --- delivery -----------------------------------------------------------------------------------------

def shelf_life(kind: str) -> timedelta:
    return timedelta(seconds=int(current_app.config["NOTIFICATION_SHELF_LIFE"].get(kind, DEFAULT_SHELF_LIFE)))


def expire_stale(recorded_before: datetime | None = None) -> int:
    """Mark the messages past their kind's shelf life `expired` (set-based, one statement per kind); with
    `recorded_before`, every message still due that was recorded before then (the demo's simulated history
    is not news to anyone)."""
    now, expired = clock.now(), 0
    for kind in KINDS:
        cutoff = now - shelf_life(kind) if recorded_before is None else recorded_before
        expired += db.session.execute(
            update(Notification).where(Notification.kind == kind, Notification.state.in_(DUE_STATES),
                                       Notification.created_at < cutoff)
            .values(state="expired", error="past its shelf life")).rowcount
    db.session.commit()
    return expired


def _message_data(notification) -> dict:
    names = FIELDS.get(notification.kind, {})
    return {names.get(key, key): {"value": str(value)[:20]} for key, value in (notification.data or {}).items()}


def _claim(batch_size: int, started: datetime) -> list:
    """The next due rows, taken by one conditional UPDATE .. RETURNING (only the rows this claim moved come
    back, whatever another drain takes at the same time) and committed before anything is sent. A row back
    in `retry` counts only if it was due before this drain started: a drain tries each message once."""
    due = (Notification.state == "pending") | ((Notification.state == "retry") & (
        Notification.next_attempt_at.is_(None) | (Notification.next_attempt_at < started)))
    ids = list(db.session.scalars(select(Notification.id).where(due).order_by(Notification.id).limit(batch_size)))
    if not ids:
        return []
    rows = db.session.execute(
        update(Notification).where(Notification.id.in_(ids), due)
        .values(state="sending", attempts=Notification.attempts + 1)
        .returning(Notification.id, Notification.member_id, Notification.kind, Notification.template_id,
                   Notification.data, Notification.page, Notification.attempts)).all()
    db.session.commit()
    return rows


def _send(client, openid: str, row) -> tuple[str, int | None, str | None]:
    try:
        client.wxa.send_subscribe_message(openid, row.template_id, _message_data(row), page=row.page)
    except WeChatClientException as exc:
        if exc.errcode == DECLINED_ERRCODE:
            return "declined", exc.errcode, str(exc.errmsg)[:255]
        return "error", exc.errcode, f"{exc.errcode}: {exc.errmsg}"[:255]
    except requests.RequestException as exc:
        return "error", None, f"unreachable: {type(exc).__name__}"
    return "sent", None, None


def _deliver_batch(rows: list, counts: dict) -> int:
    """Send one claimed batch and write the outcomes; returns how many rows went back to `retry`."""
    member_ids = {row.member_id for row in rows}
    declined = set(db.session.execute(select(NotificationDecline.member_id, NotificationDecline.template_id)
                                      .where(NotificationDecline.member_id.in_(member_ids))).all())
    openids = dict(db.session.execute(select(MemberIdentity.member_id, MemberIdentity.value).where(
        MemberIdentity.member_id.in_(member_ids), MemberIdentity.kind == "openid",
        MemberIdentity.app_id == current_app.config["WECHAT_APPID"])).all())
    outcomes: dict[int, tuple[str, int | None, str | None]] = {}
    to_send = []
    for row in rows:
        if (row.member_id, row.template_id) in declined:
            outcomes[row.id] = ("skipped", DECLINED_ERRCODE, "the member declined this template before")
        elif row.member_id not in openids:
            outcomes[row.id] = ("skipped", None, "no openid for this mini-program")
        else:
            to_send.append(row)
    db.session.rollback()  # the reads above end here: no transaction (on SQLite, no write lock) across the calls
    client = wechat.client()
    with ThreadPoolExecutor(max_workers=SEND_CONCURRENCY) as pool:
        for row, outcome in zip(to_send, pool.map(lambda r: _send(client, openids[r.member_id], r), to_send),
                                strict=True):
            outcomes[row.id] = outcome
    return _record(rows, outcomes, counts)


def _record(rows: list, outcomes: dict, counts: dict) -> int:
    now, retried = clock.now(), 0
    sent = [row_id for row_id, (state, _, _) in outcomes.items() if state == "sent"]
    if sent:
        db.session.execute(update(Notification).where(Notification.id.in_(sent))
                           .values(state="sent", sent_at=now, errcode=None, error=None))
    construct = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for row in rows:
        state, errcode, error = outcomes[row.id]
        if state == "sent":
            continue
        values = {"errcode": errcode, "error": error}
        if state == "declined":
            db.session.execute(construct(NotificationDecline).values(
                member_id=row.member_id, template_id=row.template_id, errcode=errcode, created_at=now)
                .on_conflict_do_nothing())
        elif state == "error":
            if row.attempts < MAX_ATTEMPTS:
                state, retried = "retry", retried + 1
                intervals = job_runtime.RETRY_INTERVALS
                wait = timedelta(seconds=intervals[min(row.attempts, len(intervals)) - 1])
                values["next_attempt_at"] = now + max(wait - RETRY_SLACK, timedelta(0))
            else:
                state = "failed"
        db.session.execute(update(Notification).where(Notification.id == row.id).values(state=state, **values))
        counts["failed" if state in ("retry", "failed") else "skipped"] += 1
    counts["changed"] += len(sent)
    db.session.commit()
    return retried


def drain(batch_size: int = 500) -> dict:
    """Deliver every due message, batch after batch, until none is left; raise DeliveryIncomplete when some
    failed, so RQ runs this drain again after its backoff for those back in `retry` (new messages start drains
    of their own meanwhile), and a drain that saw a message fail for good ends in the failed registry."""
    try:
        get_redis().delete(DRAIN_FLAG)  # from now on a newly recorded message requests another drain
    except Exception:  # noqa: BLE001 - without Redis the drain still delivers; the sweep requests the next
        log.warning("could not drop the drain flag")
    counts, started = job_runtime.zero_counts(), clock.now()
    counts["skipped"] += expire_stale()
    retried = 0
    while rows := _claim(batch_size, started):
        counts["scanned"] += len(rows)
        retried += _deliver_batch(rows, counts)
        job_runtime.batch_done(counts)
    if counts["failed"]:  # RQ runs this drain again (the `retry` rows), or files it as failed at the end
        raise DeliveryIncomplete(f"{counts['failed']} notifications failed ({retried} wait for another try): {counts}")
    return counts


def sweep() -> dict:
    """The hourly sweep: request a drain if anything is due (a drain request can be lost with Redis)."""
    counts = job_runtime.zero_counts()
    due = db.session.scalar(select(func.count()).select_from(Notification)
                            .where(Notification.state.in_(DUE_STATES)))
    counts["scanned"] = int(due or 0)
    if due:
        get_redis().delete(DRAIN_FLAG)
        request_drain()
        counts["changed"] = 1
    return counts
