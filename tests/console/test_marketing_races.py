"""Points adjustments from the console under real concurrency (threads, each its own signed-in browser session):
a double-submitted form counts once, and two marketers taking points at once never take the balance below zero."""
from __future__ import annotations

import threading

from sqlalchemy import select

from app.extensions import db
from points.models import LedgerEntry, PointsAccount
from tests.concurrency import end_test_transaction
from tests.console.helpers import csrf_token, sign_in


def _fire(app, member_id: int, forms: list[dict]) -> list[int]:
    """Each form posted by its own signed-in client, all released at once; the statuses in order."""
    detail = f"/console/marketing/members/{member_id}"
    clients = []
    for form in forms:
        client = app.test_client()
        sign_in(client, "marketing")
        clients.append((client, {**form, "csrf_token": csrf_token(client.get(detail).get_data(as_text=True))}))
    end_test_transaction()
    barrier = threading.Barrier(len(forms), timeout=60)
    statuses: list = [None] * len(forms)

    def run(index: int) -> None:
        client, data = clients[index]
        with app.app_context():
            barrier.wait()
            statuses[index] = client.post(f"{detail}/points", data=data).status_code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(forms))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    db.session.remove()
    return statuses


def test_a_form_submitted_twice_at_once_adjusts_once(app, shopper):
    member_id, _ = shopper
    statuses = _fire(app, member_id, [{"delta": "75", "reason": "活动补发", "key": "same-form"}] * 4)
    assert statuses == [200] * 4
    entries = db.session.scalars(select(LedgerEntry).where(LedgerEntry.note == "活动补发")).all()
    assert [entry.delta for entry in entries] == [75]


def test_two_marketers_taking_points_at_once_never_go_below_zero(app, shopper):
    member_id, _ = shopper
    balance = db.session.get(PointsAccount, member_id).available
    take = balance // 2 + 1  # either fits alone, both together do not
    statuses = _fire(app, member_id, [{"delta": str(-take), "reason": "核对扣回", "key": f"k{n}"} for n in range(2)])
    assert sorted(statuses) == [200, 422]
    assert db.session.get(PointsAccount, member_id).available == balance - take
