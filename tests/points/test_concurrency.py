"""Races at the till on SQLite and PostgreSQL: threads with their own app context and connection."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from app.extensions import db
from members import member_code
from points import ledger as ledger
from points.models import LedgerEntry
from tests.concurrency import end_test_transaction
from tests.conftest import bearer
from till.models import Purchase, Refund


def _race(app, n: int, request) -> list:
    """Run `request(client)` in n threads released together; returns their responses."""
    end_test_transaction()
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(index: int) -> None:
        with app.app_context():
            client = app.test_client()
            barrier.wait()
            try:
                response = request(client, index)
                results[index] = (response.status_code, response.get_json())
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _earns() -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "earn"))


def test_fifty_threads_one_order_no_one_credit(app, staff, shopper):
    _, member_id = shopper
    body = {"order_no": "RACE1", "member_id": member_id, "items": [{"sku": "LATTE", "qty": 2}], "paid": 6000}
    results = _race(app, 50, lambda client, i: client.post("/api/v1/pos/purchases", headers=staff, json=body))
    assert {status for status, _ in results} == {201}, results
    assert len({str(answer) for _, answer in results}) == 1
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Purchase)) == 1 and _earns() == 1
    assert ledger.summary(member_id)["balance"] == 60


def test_fifty_threads_one_order_no_with_a_member_code(app, staff, shopper):
    _, member_id = shopper
    code = member_code.issue(member_id).code
    body = {"order_no": "RACE2", "member_code": code, "items": [{"sku": "TEA", "qty": 1}], "paid": 2000}
    results = _race(app, 50, lambda client, i: client.post("/api/v1/pos/purchases", headers=staff, json=body))
    assert {status for status, _ in results} == {201}, [r for r in results if r[0] != 201][:3]
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Purchase)) == 1 and _earns() == 1


def test_twenty_purchases_spending_everything_one_wins(app, operator_token, shopper, give):
    _, member_id = shopper
    give(member_id, 1000)
    manager = bearer(operator_token("manager", "S1"))  # twenty tills, one member: by id, with a manager's override

    def spend(client, index):
        return client.post("/api/v1/pos/purchases", headers=manager, json={
            "order_no": f"ALL{index}", "member_id": member_id, "items": [{"sku": "MUG", "qty": 1}],
            "points_to_use": 1000, "paid": 9000, "override_reason": "race test"})

    results = _race(app, 20, spend)
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * 19, results
    assert all(answer["error"]["code"] == "insufficient_points" for status, answer in results if status == 409)
    db.session.remove()
    summary = ledger.summary(member_id)
    assert summary["balance"] == 90 and summary["debt"] == 0
    assert min(e.balance_after for e in db.session.scalars(select(LedgerEntry))) >= 0


def test_twenty_adjustments_at_once_all_count(app, marketing, shopper):
    """Each +100 reads the account and writes it back: none may be lost between a read and a write."""
    _, member_id = shopper
    url = f"/api/v1/admin/members/{member_id}/points-adjustments"
    results = _race(app, 20, lambda c, i: c.post(url, headers=marketing, json={"delta": 100, "reason": f"race {i}"}))
    assert {status for status, _ in results} == {201}, results
    db.session.remove()
    ledger_sum = db.session.scalar(select(func.sum(LedgerEntry.delta)).where(LedgerEntry.member_id == member_id))
    assert ledger.summary(member_id)["balance"] == ledger_sum == 2000


def test_twenty_purchases_at_once_all_earn(app, staff, shopper):
    """Twenty orders of one member at once each earn 20 points into the same account: none may be lost."""
    _, member_id = shopper
    results = _race(app, 20, lambda c, i: c.post("/api/v1/pos/purchases", headers=staff, json={
        "order_no": f"EACH{i}", "member_id": member_id, "items": [{"sku": "TEA", "qty": 1}], "paid": 2000}))
    assert {status for status, _ in results} == {201}, results
    db.session.remove()
    ledger_sum = db.session.scalar(select(func.sum(LedgerEntry.delta)).where(LedgerEntry.member_id == member_id))
    assert ledger.summary(member_id)["balance"] == ledger_sum == 20 * 20


def test_one_refund_no_from_many_threads_reverses_once(app, client, staff, shopper, buy):
    _, member_id = shopper
    assert buy(member_id, [("MUG", 1)], order_no="RR1").status_code == 201
    body = {"refund_no": "RRF1", "amount": 5000}
    results = _race(app, 20, lambda c, i: c.post("/api/v1/pos/purchases/RR1/refunds", headers=staff, json=body))
    assert {status for status, _ in results} == {201}, results
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 1
    reversals = db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "reverse"))
    assert reversals == 1 and ledger.summary(member_id)["balance"] == 50


def test_concurrent_different_refunds_never_exceed_paid(app, staff, shopper, buy):
    _, member_id = shopper
    buy(member_id, [("MUG", 1)], order_no="RR2")
    results = _race(app, 10, lambda c, i: c.post("/api/v1/pos/purchases/RR2/refunds", headers=staff,
                                                  json={"refund_no": f"P{i}", "amount": 3000}))
    assert sorted(status for status, _ in results) == [201] * 3 + [422] * 7, results
    db.session.remove()
    assert db.session.scalar(select(Purchase)).refunded_amount == 9000
    assert ledger.summary(member_id)["balance"] == 10


def test_racing_first_purchases_reward_the_first_purchase_once(app, client, marketing, staff, shopper):
    """Ten purchases of a new member at once: the purchase count, read back from the growth UPDATE under the
    member row's lock, makes exactly one of them the first; every one adds its growth."""
    from members.models import Member
    from tasks.models import TaskCompletion
    from tests.tasks.helpers import define

    define(client, marketing, code="first", kind="first_purchase", title="首单有礼", reward={"points": 50})
    _, member_id = shopper
    results = _race(app, 10, lambda c, i: c.post("/api/v1/pos/purchases", headers=staff, json={
        "order_no": f"FIRST{i}", "member_id": member_id, "items": [{"sku": "TEA", "qty": 1}], "paid": 2000}))
    assert {status for status, _ in results} == {201}, results
    db.session.remove()
    member = db.session.get(Member, member_id)
    assert (member.purchase_count, member.growth) == (10, 200)
    assert db.session.scalar(select(func.count()).select_from(TaskCompletion)) == 1
    assert ledger.summary(member_id)["balance"] == 10 * 20 + 50
