"""Subscribe messages through the fake WeChat API: sent after commit, at most once, 43101 remembered."""
from __future__ import annotations

import pytest
from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from app import events
from app import jobs as job_runtime
from app.extensions import db
from app.job_runs.models import JobRun
from app.redis_store import get_redis
from notifications import reminders, service
from notifications.models import Notification, NotificationDecline
from tests.workers.helpers import make_member

SEND = "/cgi-bin/message/subscribe/send"


@pytest.fixture
def wechat(fake_wechat):
    """The fake's subscribe-send endpoint answering from a script (default: ok)."""
    script: list[dict] = []
    fake_wechat.route(SEND, lambda request, body: script.pop(0) if script else {"errcode": 0, "errmsg": "ok"})
    fake_wechat.script = script
    return fake_wechat


def sends(fake) -> list[dict]:
    return [call["body"] for call in fake.calls if call["path"] == SEND]


def work() -> None:
    SimpleWorker([Queue("notify", connection=get_redis())], connection=get_redis()).work(
        burst=True, with_scheduler=False)


def tier_up(member_id: int, to: str = "gold") -> None:
    events.tier_changed.send(None, member_id=member_id, from_tier="silver", to_tier=to, reason="growth")
    db.session.commit()


def test_tier_change_sends_one_message_after_the_commit(wechat):
    member_id = make_member("ann")
    tier_up(member_id)
    assert len(Queue("notify", connection=get_redis())) == 1
    work()
    [body] = sends(wechat)
    assert body["touser"] == "openid-ann" and body["template_id"] == "demo-tpl-tier-changed"
    assert body["data"] == {"thing1": {"value": "gold"}, "thing2": {"value": "silver"}}
    note = db.session.scalar(select(Notification))
    assert (note.state, note.attempts, note.sent_at is not None) == ("sent", 1, True)


def test_the_same_event_twice_and_a_redelivery_send_once(wechat):
    member_id = make_member("ann")
    tier_up(member_id)
    tier_up(member_id)  # same member, tier and day: the same idempotency key
    work()
    db.session.scalar(select(Notification))
    service.drain()  # a duplicate delivery job
    assert len(sends(wechat)) == 1
    assert db.session.scalar(select(db.func.count()).select_from(Notification)) == 1


def test_a_rolled_back_cause_sends_nothing(wechat):
    member_id = make_member("ann")
    events.tier_changed.send(None, member_id=member_id, from_tier="silver", to_tier="gold", reason="growth")
    db.session.rollback()
    assert len(Queue("notify", connection=get_redis())) == 0
    assert db.session.scalar(select(Notification)) is None


def test_declined_is_remembered_and_never_retried(wechat):
    member_id = make_member("ann")
    wechat.script.append({"errcode": 43101, "errmsg": "user refuse to accept the msg"})
    tier_up(member_id, "gold")
    work()
    note = db.session.scalar(select(Notification))
    assert (note.state, note.errcode) == ("declined", 43101)
    assert db.session.get(NotificationDecline, (member_id, "demo-tpl-tier-changed")) is not None
    tier_up(member_id, "platinum")  # a new message, same template: not even tried
    events.points_credited.send(None, credits=[{"member_id": member_id, "entry_id": 77, "amount": 10, "balance": 10,
                                                "reason": "签到"}])
    db.session.commit()
    work()
    assert len(sends(wechat)) == 2  # the declined one, and the points message (another template)
    states = sorted(db.session.execute(select(Notification.kind, Notification.state)).all())
    assert states == [("points_credited", "sent"), ("tier_changed", "declined"), ("tier_changed", "skipped")]
    assert FailedJobRegistry("notify", connection=get_redis()).get_job_ids() == []


def test_other_errors_are_retried_with_backoff_then_fail(wechat, monkeypatch):
    monkeypatch.setattr(job_runtime, "RETRY_INTERVALS", [0, 0, 0])  # real: 10 s, 60 s, 300 s
    member_id = make_member("ann")
    wechat.script.extend([{"errcode": -1, "errmsg": "system busy"}] * 4)
    tier_up(member_id)
    work()
    note = db.session.scalar(select(Notification))
    assert (note.state, note.attempts, note.errcode) == ("failed", 4, -1)
    assert len(sends(wechat)) == 4
    assert len(FailedJobRegistry("notify", connection=get_redis()).get_job_ids()) == 1


def test_a_transient_error_then_success(wechat, monkeypatch):
    monkeypatch.setattr(job_runtime, "RETRY_INTERVALS", [0, 0, 0])
    member_id = make_member("ann")
    wechat.script.append({"errcode": 45009, "errmsg": "reach max api daily quota limit"})
    tier_up(member_id)
    work()
    note = db.session.scalar(select(Notification))
    assert (note.state, note.attempts) == ("sent", 2)


def test_member_without_openid_is_skipped(wechat):
    from members.models import Member

    member = Member(invite_code="NOOPENID")
    db.session.add(member)
    db.session.commit()
    tier_up(member.id)
    work()
    assert sends(wechat) == [] and db.session.scalar(select(Notification.state)) == "skipped"


def test_unconfigured_template_records_nothing(app, wechat, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_TEMPLATE_TIER_CHANGED", "")
    tier_up(make_member("ann"))
    assert db.session.scalar(select(Notification)) is None


def test_idempotency_key_is_unique_in_the_database():
    member_id = make_member("ann")
    db.session.add(Notification(member_id=member_id, kind="tier_changed", idempotency_key="k1", template_id="t"))
    db.session.commit()
    db.session.add(Notification(member_id=member_id, kind="tier_changed", idempotency_key="k1", template_id="t"))
    with pytest.raises(Exception, match="(?i)unique"):
        db.session.commit()
    db.session.rollback()


def test_coupon_reminder_once_per_coupon(wechat, at):
    from coupons import issuing
    from tests.coupons.helpers import template

    at("2026-03-01T10:00:00+08:00")
    member_id = make_member("ann")
    ending = template(title="满100减20", claimable=False,
                      validity={"kind": "fixed", "start": "2026-02-01", "end": "2026-03-03"})
    later = template(claimable=False, validity={"kind": "fixed", "start": "2026-02-01", "end": "2026-04-30"})
    issuing.grant(member_id, ending.id, key="k1", reason="test")
    issuing.grant(member_id, later.id, key="k2", reason="test")  # not within three days: no reminder
    db.session.commit()
    assert reminders.remind_expiring_coupons()["changed"] == 1
    assert reminders.remind_expiring_coupons()["changed"] == 0
    work()
    [body] = sends(wechat)
    assert body["data"] == {"thing1": {"value": "满100减20"}, "date2": {"value": "2026-03-03"}}


def test_the_access_token_is_fetched_once_for_all_processes(wechat):
    """Every worker process builds its own client; the token lives in Redis, so WeChat is asked once."""
    from app import wechat as wechat_api

    before = wechat.token_counter
    for member in ("ann", "bob", "cat"):
        wechat_api.client().wxa.send_subscribe_message(f"openid-{member}", "tpl", {"thing1": {"value": "x"}})
    assert wechat.token_counter == before + 1
    assert len(sends(wechat)) == 3


def test_many_messages_queue_one_drain_that_sends_them_in_batches(wechat):
    members = [make_member(f"m{n}") for n in range(7)]
    for member_id in members:  # seven transactions, as seven purchases would be
        tier_up(member_id)
    assert len(Queue("notify", connection=get_redis())) == 1
    wechat.script.extend([{"errcode": 0, "errmsg": "ok"}] * 2 + [{"errcode": -1, "errmsg": "system busy"}])
    with pytest.raises(service.DeliveryIncomplete):
        service.drain(batch_size=3)  # three batches: 3 + 3 + 1, one of them fails and waits for a retry
    states = dict(db.session.execute(select(Notification.member_id, Notification.state)).all())
    assert sorted(states.values()) == ["retry"] + ["sent"] * 6
    assert len(sends(wechat)) == 7
    failed = next(member_id for member_id, state in states.items() if state == "retry")
    note = db.session.scalar(select(Notification).where(Notification.member_id == failed))
    assert (note.attempts, note.errcode, note.next_attempt_at is not None) == (1, -1, True)
    assert service.drain()["scanned"] == 0  # its backoff has not passed: nothing is due yet


def test_a_message_past_its_shelf_life_is_expired_not_sent(wechat, at):
    member_id = make_member("ann")
    at("2026-03-01T10:00:00+08:00")
    events.points_credited.send(None, credits=[{"member_id": member_id, "entry_id": 5, "amount": 10, "balance": 10,
                                                "reason": "消费"}])
    db.session.commit()
    at("2026-03-02T10:00:01+08:00")  # a day and a second later: stale for "points credited"
    tier_up(member_id)  # fresh
    counts = service.drain()
    assert counts["changed"] == 1 and counts["skipped"] == 1
    states = dict(db.session.execute(select(Notification.kind, Notification.state)).all())
    assert states == {"points_credited": "expired", "tier_changed": "sent"}
    assert [body["template_id"] for body in sends(wechat)] == ["demo-tpl-tier-changed"]


def test_failing_messages_do_not_hold_up_other_queues(wechat, monkeypatch):
    """A flood of messages that keep failing queues one drain at a time, so a grant job behind them runs in
    the same pass of a worker serving notify first."""
    monkeypatch.setattr(job_runtime, "RETRY_INTERVALS", [0, 0, 0])
    wechat.script.extend([{"errcode": -1, "errmsg": "system busy"}] * 200)
    for n in range(50):
        tier_up(make_member(f"m{n}"))
    job_runtime.enqueue("grant_birthday_gifts")
    assert len(Queue("notify", connection=get_redis())) == 1
    SimpleWorker([Queue(name, connection=get_redis()) for name in ("notify", "grants")],
                 connection=get_redis()).work(burst=True, with_scheduler=False)
    runs = dict(db.session.execute(select(JobRun.job, JobRun.state).where(JobRun.job == "grant_birthday_gifts")).all())
    assert runs == {"grant_birthday_gifts": "succeeded"}
    assert len(sends(wechat)) == 200  # 50 messages x 4 attempts, in four drains
    assert set(db.session.scalars(select(Notification.state))) == {"failed"}
