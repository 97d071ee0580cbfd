"""Set-based expiry and activation: the same moves as the ledger's per-member functions, per batch."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.job_runs.models import JobRun
from notifications import reminders
from points import expiry
from points import jobs as points_jobs
from points import ledger as ledger
from points.models import LedgerEntry, PointsAccount, PointsLot
from tests.concurrency import end_test_transaction
from tests.workers.helpers import DAY, assert_balances_chain, credit, make_member, seed_population, spend, state_of


def _at_day_start(minutes: int = 5):
    clock.set_now(clock.start_of_business_day(DAY) + timedelta(minutes=minutes))


def test_expiry_writes_one_expire_row_per_due_lot_and_closes_it():
    expected = seed_population(5)
    _at_day_start()
    counts = expiry.expire_points_lots(DAY, batch_size=3)  # batches split members' lots across batches
    assert counts == {"scanned": 10, "changed": 10, "skipped": 0, "failed": 0}
    for member_id, want in expected.items():
        got = state_of(member_id)
        assert (got["available"], got["expired"]) == (want["available"], want["expired"])
        assert len(got["expire_keys"]) == 2
    assert_balances_chain()
    assert ledger.verify() == []


def test_lots_not_yet_due_are_untouched_and_a_rerun_changes_nothing():
    expected = seed_population(2)
    clock.set_now(clock.start_of_business_day(DAY) - timedelta(seconds=1))  # a second before DAY starts
    expiry.expire_points_lots(DAY - timedelta(days=1))  # only lot a (due at the end of DAY-2) is due
    first = {member_id: state_of(member_id) for member_id in expected}
    assert all(s["available"] == 120 and s["expired"] == 40 for s in first.values())
    _at_day_start()
    expiry.expire_points_lots(DAY)
    again = expiry.expire_points_lots(DAY)
    assert again == {"scanned": 0, "changed": 0, "skipped": 0, "failed": 0}
    assert all(state_of(m)["available"] == 70 for m in expected)
    assert_balances_chain()


def test_a_future_cutoff_is_never_used():
    """Run early (the clock before the day starts): lots due at midnight stay spendable until then."""
    seed_population(1)
    clock.set_now(clock.start_of_business_day(DAY) - timedelta(hours=1))
    counts = expiry.expire_points_lots(DAY)
    assert counts["changed"] == 1  # lot a (end of DAY-2) only; lot b ends at DAY's start, an hour away


def test_expiry_and_the_ledgers_own_expiry_never_double_expire():
    expected = seed_population(2)
    _at_day_start()
    first = next(iter(expected))
    spend(first, 10, "after-midnight")  # the ledger expires this member's due lots itself (key lot:<id>)
    counts = expiry.expire_points_lots(DAY)
    assert counts["changed"] == 2  # only the other member's two lots
    assert state_of(first)["expired"] == 90 and state_of(first)["available"] == 60
    assert_balances_chain()


def test_job_entry_point_records_its_run():
    seed_population(2)
    _at_day_start()
    points_jobs.expire_points_lots(day=DAY)
    run = db.session.scalar(select(JobRun))
    assert (run.job, run.state, run.run_key, run.scanned, run.changed, run.error) == (
        "expire_points_lots", "succeeded", DAY.isoformat(), 4, 4, None)
    assert run.finished_at is not None


def test_sharded_workers_split_members_and_together_expire_everything():
    expected = seed_population(5)
    _at_day_start()
    a = expiry.expire_points_lots(DAY, shard=0, shards=2)
    b = expiry.expire_points_lots(DAY, shard=1, shards=2)
    assert a["changed"] + b["changed"] == 10 and a["changed"] and b["changed"]
    assert all(state_of(m)["available"] == 70 for m in expected)


def _debt_member() -> int:
    """A member with 30 points of debt and two pending lots (20, then 50)."""
    clock.set_now(clock.start_of_business_day(DAY - timedelta(days=10)))
    member_id = make_member("debtor")
    credit(member_id, 40, "earned", DAY + timedelta(days=300))
    spend(member_id, 40, "spent")
    ledger.reverse(member_id, 30, key="clawback", cause_type="test")
    db.session.commit()
    window_end = clock.now() + timedelta(days=7)
    credit(member_id, 20, "p1", DAY + timedelta(days=300), available_at=window_end)
    credit(member_id, 50, "p2", DAY + timedelta(days=300), available_at=window_end)
    return member_id


def test_activation_pays_debt_first_like_activate_lot():
    member_id = _debt_member()
    later = make_member("later")
    clock.set_now(clock.start_of_business_day(DAY - timedelta(days=10)))
    credit(later, 10, "p3", DAY + timedelta(days=300), available_at=clock.now() + timedelta(days=30))
    clock.set_now(clock.start_of_business_day(DAY))
    counts = expiry.activate_pending_points(batch_size=1)
    assert (counts["scanned"], counts["changed"]) == (2, 2)  # the `later` lot is still in its window
    account = db.session.get(PointsAccount, member_id)
    assert (account.available, account.pending, account.debt) == (40, 0, 0)
    lots = db.session.scalars(select(PointsLot).where(PointsLot.member_id == member_id, PointsLot.amount.in_((20, 50)))
                              .order_by(PointsLot.id)).all()
    assert [(lot.remaining, lot.state) for lot in lots] == [(0, "closed"), (40, "open")]
    assert db.session.get(PointsAccount, later).pending == 10
    assert expiry.activate_pending_points()["changed"] == 0


def test_points_expiring_reminder_once_per_member_and_day():
    from notifications.models import Notification

    clock.set_now(clock.start_of_business_day(DAY - timedelta(days=40)))
    soon, later = make_member("soon"), make_member("later")
    credit(soon, 30, "s1", DAY + timedelta(days=7))
    credit(soon, 20, "s2", DAY + timedelta(days=7))
    credit(later, 30, "l1", DAY + timedelta(days=8))
    clock.set_now(clock.start_of_business_day(DAY) + timedelta(hours=10))
    assert reminders.remind_expiring_points(DAY)["changed"] == 1
    assert reminders.remind_expiring_points(DAY)["changed"] == 0
    [note] = db.session.scalars(select(Notification).where(Notification.kind == "points_expiring"))
    assert (note.member_id, note.data["points"]) == (soon, 50)


def test_expiry_interleaves_with_live_spending(app):
    """Threads spend while the job expires the same members' lots: no drift, every lot expired once."""
    expected = seed_population(30)
    _at_day_start()
    errors = []

    def shop(thread_no, member_ids):
        with app.app_context():
            for round_ in range(3):
                for member_id in member_ids:
                    try:
                        key = f"live-{thread_no}-{member_id}-{round_}"
                        ledger.debit(member_id, 5, kind="spend", key=key, cause_type="test")
                        db.session.commit()
                    except Exception as exc:  # noqa: BLE001
                        db.session.rollback()
                        errors.append(exc)

    def expire():
        with app.app_context():
            expiry.expire_points_lots(DAY, batch_size=4)

    end_test_transaction()
    threads = [threading.Thread(target=shop, args=(n, list(expected))) for n in range(2)]
    threads.append(threading.Thread(target=expire))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db.session.expire_all()
    for member_id in expected:
        got = state_of(member_id)
        assert got["expired"] == 90 and got["available"] == 70 - 30
    duplicates = db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "expire"))
    assert duplicates == 60
    assert_balances_chain()


@pytest.mark.postgres(reason="SET LOCAL plan_cache_mode is PostgreSQL's planner; SQLite has no prepared plans")
def test_batches_are_planned_for_their_own_ids():
    """Each expiry and activation batch asks PostgreSQL for a plan made for its ids (app.sql.custom_plans)
    before its CTE runs: from the sixth batch on psycopg prepares the statement, and the generic plan PostgreSQL
    then settled on made activation five times slower (bench/README.md)."""
    from tests.sql_capture import statements as captured

    seed_population(3)
    with captured() as raw:
        _at_day_start()
        expiry.expire_points_lots(DAY, batch_size=2)
        member_id = _debt_member()
        clock.set_now(clock.start_of_business_day(DAY))
        expiry.activate_pending_points(batch_size=1)
    statements = [" ".join(s.split())[:40] for s in raw]
    ctes = [i for i, s in enumerate(statements) if s.startswith("WITH due AS")]
    assert len(ctes) >= 4, statements  # several expiry batches and two activation batches
    for start, index in zip([-1, *ctes], ctes, strict=False):  # a SET LOCAL in each batch, before its CTE
        assert any(s.startswith("SET LOCAL plan_cache_mode") for s in statements[start + 1:index]), statements
    assert db.session.get(PointsAccount, member_id).pending == 0
