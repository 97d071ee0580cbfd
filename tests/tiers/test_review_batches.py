"""Tier reviews set-based per batch: the outcomes of a member-at-a-time review (kept, one step down with the
growth reset, the entry tier, not yet due) across batch boundaries and review dates, one notification
statement per batch, statements that do not grow with the batch, and purchases racing a review."""
from __future__ import annotations

import threading
import time
from datetime import date

from sqlalchemy import func, select

from app import clock
from app.extensions import db
from members.models import Member
from notifications.models import Notification
from tests.concurrency import end_test_transaction
from tests.sql_capture import statements
from tiers import growth, review
from tiers.models import GrowthEvent, TierChange

T0, T1, T2 = "2026-01-05T10:00:00+08:00", "2026-01-10T10:00:00+08:00", "2026-06-01T10:00:00+08:00"
REVIEW = "2027-01-10T01:00:00+08:00"


def _grow(member_id: int, delta: int) -> None:
    growth.add_growth(member_id, delta, "purchase")
    db.session.commit()


def _state(member_id: int) -> tuple:
    db.session.expire_all()
    member = db.session.get(Member, member_id)
    return member.tier.code, member.growth, member.tier_review_on


def _log_adds_up(member_id: int) -> bool:
    total = db.session.scalar(select(func.coalesce(func.sum(GrowthEvent.delta), 0))
                              .where(GrowthEvent.member_id == member_id))
    return total == db.session.get(Member, member_id).growth


def _program(login, at) -> dict[str, int]:
    """Members whose review falls on 2027-01-10 with each outcome, one not yet due and one at the entry tier."""
    ids = {name: login(name)[1] for name in ("kept", "down", "gold", "gold_down", "later", "entry")}
    at(T0)
    for name, delta in (("kept", 999), ("down", 999), ("gold_down", 4999), ("entry", 10)):
        _grow(ids[name], delta)
    at(T1)  # each upgrade starts a period: only what was earned from here counts
    for name, delta in (("kept", 1), ("down", 1), ("gold", 5000), ("gold_down", 1)):
        _grow(ids[name], delta)
    at(T2)
    _grow(ids["kept"], 600)  # 601 in the period >= 500
    _grow(ids["later"], 1000)  # silver from June: reviewed in 2027-06
    return ids


def test_a_batch_has_the_outcomes_of_a_member_at_a_time(tiers, login, at, app, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_TEMPLATE_TIER_CHANGED", "tpl-tier")
    ids = _program(login, at)
    at(REVIEW)
    assert review.review_tiers(batch_size=2) == {"scanned": 4, "changed": 2, "skipped": 2, "failed": 0}
    assert _state(ids["kept"]) == ("silver", 1600, date(2028, 1, 10))
    assert _state(ids["down"]) == ("normal", 0, None)
    assert _state(ids["gold"]) == ("gold", 5000, date(2028, 1, 10))
    assert _state(ids["gold_down"]) == ("silver", 1000, date(2028, 1, 10))  # one step; growth reset to silver's
    assert _state(ids["later"]) == ("silver", 1000, date(2027, 6, 1))
    assert _state(ids["entry"]) == ("normal", 10, None)
    changes = db.session.execute(select(TierChange.member_id, TierChange.to_tier_id, TierChange.ref, TierChange.growth)
                                 .where(TierChange.reason == "review").order_by(TierChange.id)).all()
    assert changes == [(ids["down"], tiers["normal"].id, "2027-01-10", 0),
                       (ids["gold_down"], tiers["silver"].id, "2027-01-10", 1000)]
    resets = db.session.execute(select(GrowthEvent.member_id, GrowthEvent.delta, GrowthEvent.growth_after)
                                .where(GrowthEvent.reason == growth.REVIEW_RESET).order_by(GrowthEvent.id)).all()
    assert resets == [(ids["down"], -1000, 0), (ids["gold_down"], -4000, 1000)]
    assert all(_log_adds_up(member_id) for member_id in ids.values())
    messages = db.session.execute(select(Notification.member_id, Notification.idempotency_key, Notification.data)
                                  .where(Notification.kind == "tier_changed",
                                         Notification.idempotency_key.like("%:2027-01-10"))
                                  .order_by(Notification.member_id)).all()
    assert messages == [
        (ids["down"], f"tier_changed:{ids['down']}:normal:2027-01-10", {"tier": "normal", "previous": "silver"}),
        (ids["gold_down"], f"tier_changed:{ids['gold_down']}:silver:2027-01-10",
         {"tier": "silver", "previous": "gold"})]
    assert review.review_tiers() == {"scanned": 0, "changed": 0, "skipped": 0, "failed": 0}  # re-run: nothing


def test_a_batch_sends_one_event_and_one_notification_statement(tiers, login, at, app, monkeypatch):
    from app import events

    monkeypatch.setitem(app.config, "WECHAT_TEMPLATE_TIER_CHANGED", "tpl-tier")
    ids = _program(login, at)
    sent = []

    def receiver(sender, **kwargs):
        sent.append(kwargs)

    at(REVIEW)
    events.tiers_changed.connect(receiver)
    try:
        with statements() as sql:
            review.review_tiers()
    finally:
        events.tiers_changed.disconnect(receiver)
    assert sent == [{"changes": [
        {"member_id": ids["down"], "from_tier": "silver", "to_tier": "normal", "reason": "review"},
        {"member_id": ids["gold_down"], "from_tier": "gold", "to_tier": "silver", "reason": "review"}]}]
    assert len([s for s in sql if s.lstrip().upper().replace('"', "").startswith("INSERT INTO NOTIFICATIONS")]) == 1


def _downgrades_due(login, at, count: int, prefix: str) -> list[int]:
    ids = [login(f"{prefix}{n}")[1] for n in range(count)]
    at(T0)
    for member_id in ids:
        _grow(member_id, 999)
    at(T1)
    for member_id in ids:
        _grow(member_id, 1)
    return ids


def test_statements_do_not_grow_with_the_batch(tiers, login, at):
    counted = []
    for count, prefix in ((2, "w"), (3, "s"), (9, "m")):  # the first run also fills the ladder's cached copy
        group = _downgrades_due(login, at, count, prefix)
        at(REVIEW)
        with statements() as sql:
            assert review.review_tiers()["changed"] == count
        counted.append(len(sql))
        assert all(_state(member_id)[0] == "normal" for member_id in group)
    # policy, lock, SUM, 3 writes, the empty next batch (+ a SET LOCAL per batch on PostgreSQL)
    assert counted[1] == counted[2] <= 11


def test_review_dates_of_one_batch_differ(tiers, login, at):
    """A member whose review was missed is reviewed at its own date, beside one due today: their periods
    end at different days, so each gets the growth of its own period."""
    early, today = login("early")[1], login("today")[1]
    at("2026-01-05T10:00:00+08:00")
    _grow(early, 999)
    _grow(today, 999)
    at("2026-01-08T10:00:00+08:00")
    _grow(early, 1)  # silver, reviewed 2027-01-08
    at(T1)
    _grow(today, 1)  # silver, reviewed 2027-01-10
    at("2027-01-09T10:00:00+08:00")
    _grow(early, 600)  # after early's review date: not in its period
    _grow(today, 600)  # within today's period
    at(REVIEW)
    assert review.review_tiers() == {"scanned": 2, "changed": 1, "skipped": 1, "failed": 0}
    assert _state(early) == ("normal", 0, None)  # 1 in its period: down; growth reset to the entry tier's 0
    assert _state(today) == ("silver", 1600, date(2028, 1, 10))


def test_purchases_racing_a_review_keep_the_growth_log_whole(tiers, login, at, app, monkeypatch):
    """The review locks its batch's members: growth a purchase adds while the batch is being decided waits for
    the batch's commit, so the review's reset never overwrites it (the growth log adds up to the growth)."""
    ids = _downgrades_due(login, at, 4, "r")
    at(REVIEW)
    end_test_transaction()
    now = clock.now()
    deciding = threading.Event()
    summed = review._period_growth

    def slow_sum(member_ids, review_day):
        earned = summed(member_ids, review_day)
        deciding.set()
        time.sleep(0.5)  # the purchases come now, between the batch's read and its writes
        return earned

    monkeypatch.setattr(review, "_period_growth", slow_sum)
    errors: list[BaseException] = []

    def run(call) -> None:
        with app.app_context():
            clock.set_now(now)
            try:
                call()
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
            finally:
                db.session.remove()

    def purchase(member_id: int) -> None:
        assert deciding.wait(30)
        _grow(member_id, 300)

    threads = [threading.Thread(target=run, args=(review.review_tiers,))]
    threads += [threading.Thread(target=run, args=(lambda m=m: purchase(m),)) for m in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    db.session.expire_all()
    for member_id in ids:
        assert _state(member_id) == ("normal", 300, None)  # reset to 0 by the review, then the purchase's 300
        assert _log_adds_up(member_id), member_id
