"""WeChat subscribe messages: recorded first, delivered from the `notify` queue, at most once each.

A notification is a row keyed by a unique idempotency key, written in the transaction of its cause (a
tier change, a purchase) or by a reminder job's batch. Delivery is enqueued only after that transaction
commits, and claims each row with a conditional UPDATE (pending/retry -> sending) before calling WeChat,
so two workers never send the same row, and a worker that dies mid-call leaves it `sending` rather than
sending it again. 43101 (the member has not subscribed or refused) is remembered per (member, template)
and never retried; other errors go back to `retry` and the delivery job raises, so RQ retries it with
backoff; after the last try the row is `failed` and the job sits in the failed registry.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

import requests
from flask import current_app
from sqlalchemy import event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatClientException

from app import clock, wechat
from app import jobs as job_runtime
from app.extensions import db
from app.sql import insert_many
from members.models import MemberIdentity
from notifications.models import Notification, NotificationDecline

log = logging.getLogger(__name__)

DECLINED_ERRCODE = 43101
MAX_ATTEMPTS = 4  # the first try and RQ's three retries
STALE_PENDING = timedelta(minutes=5)

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
    """A reminder job's batch: record the messages, commit, queue their delivery. Returns how many are new."""
    ids = _insert_rows(kind, items)
    db.session.commit()
    enqueue_delivery(ids)
    return len(ids)


def enqueue_delivery(ids: list[int]) -> None:
    """One delivery job per batch of messages (never one job per member)."""
    if not ids:
        return
    try:
        job_runtime.enqueue_on_demand("deliver_notifications", ids=list(ids))
    except Exception:  # noqa: BLE001 - Redis down: the hourly sweep delivers what stays pending
        log.exception("could not queue %d notifications; the sweep will pick them up", len(ids))


@event.listens_for(Session, "after_commit")
def _send_after_commit(session: Session) -> None:
    ids = session.info.pop("notifications_to_send", None)
    if ids:
        enqueue_delivery(ids)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop("notifications_to_send", None)


# --- delivery -----------------------------------------------------------------------------------------

def _openid(member_id: int) -> str | None:
    return db.session.scalar(select(MemberIdentity.value).where(
        MemberIdentity.member_id == member_id, MemberIdentity.kind == "openid",
        MemberIdentity.app_id == current_app.config["WECHAT_APPID"]))


def _message_data(notification: Notification) -> dict:
    names = FIELDS.get(notification.kind, {})
    return {names.get(key, key): {"value": str(value)[:20]} for key, value in (notification.data or {}).items()}


def _claim(notification_id: int) -> Notification | None:
    claimed = db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.state.in_(("pending", "retry")))
        .values(state="sending", attempts=Notification.attempts + 1)
    ).rowcount
    db.session.commit()
    return db.session.get(Notification, notification_id) if claimed else None


def _finish(notification: Notification, state: str, errcode: int | None = None, error: str | None = None) -> None:
    notification.state, notification.errcode, notification.error = state, errcode, error
    if state == "sent":
        notification.sent_at = clock.now()
    db.session.commit()


def _send_one(notification: Notification) -> str:
    declined = db.session.get(NotificationDecline, (notification.member_id, notification.template_id))
    if declined is not None:
        _finish(notification, "skipped", declined.errcode, "the member declined this template before")
        return "skipped"
    openid = _openid(notification.member_id)
    if openid is None:
        _finish(notification, "skipped", None, "no openid for this mini-program")
        return "skipped"
    try:
        wechat.client().wxa.send_subscribe_message(openid, notification.template_id, _message_data(notification),
                                                   page=notification.page)
    except WeChatClientException as exc:
        if exc.errcode == DECLINED_ERRCODE:
            construct = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
            db.session.execute(construct(NotificationDecline).values(
                member_id=notification.member_id, template_id=notification.template_id, errcode=exc.errcode,
                created_at=clock.now()).on_conflict_do_nothing())
            _finish(notification, "declined", exc.errcode, str(exc.errmsg)[:255])
            return "declined"
        return _failed(notification, exc.errcode, f"{exc.errcode}: {exc.errmsg}")
    except requests.RequestException as exc:
        return _failed(notification, None, f"unreachable: {type(exc).__name__}")
    _finish(notification, "sent")
    return "sent"


def _failed(notification: Notification, errcode: int | None, error: str) -> str:
    state = "retry" if notification.attempts < MAX_ATTEMPTS else "failed"
    _finish(notification, state, errcode, str(error)[:255])
    return state


def deliver(ids: list[int]) -> dict:
    """Send these notifications (those still to send); raise DeliveryIncomplete if some failed, so RQ retries."""
    counts = {"scanned": 0, "changed": 0, "skipped": 0, "failed": 0}
    for notification_id in ids:
        counts["scanned"] += 1
        notification = _claim(notification_id)
        if notification is None:  # sent, declined or being sent by another worker
            counts["skipped"] += 1
            continue
        outcome = _send_one(notification)
        if outcome == "sent":
            counts["changed"] += 1
        elif outcome in ("retry", "failed"):
            counts["failed"] += 1
        else:
            counts["skipped"] += 1
    if counts["failed"]:  # RQ retries the job (rows in `retry`), or files it as failed after the last try
        raise DeliveryIncomplete(f"{counts['failed']} of {len(ids)} notifications failed: {counts}")
    return counts


def deliver_pending(batch_size: int = 500) -> dict:
    """The sweep: queue delivery of messages left pending (their enqueue was lost, e.g. Redis was down)."""
    counts = {"scanned": 0, "changed": 0, "skipped": 0, "failed": 0}
    after_id, stale_before = 0, clock.now() - STALE_PENDING
    while True:
        ids = list(db.session.scalars(
            select(Notification.id).where(Notification.state == "pending", Notification.id > after_id,
                                          Notification.created_at <= stale_before)
            .order_by(Notification.id).limit(batch_size)))
        if not ids:
            return counts
        after_id = ids[-1]
        enqueue_delivery(ids)
        counts["scanned"] += len(ids)
        counts["changed"] += len(ids)
