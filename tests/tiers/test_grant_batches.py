"""The set-based grant jobs with the real ledger and coupons: once per period by the database's keys, each
batch its own transaction, crash and re-run, the old per-member path's grants, tier changes, stock, races."""
from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from app.errors import NotFound
from app.extensions import db
from benefits import grants
from coupons import issuing
from coupons.models import Coupon, CouponTemplate
from members.models import Member
from notifications.models import Notification
from points import ledger as ledger
from points.models import LedgerEntry, PointsAccount, PointsLot
from tests.concurrency import end_test_transaction
from tests.coupons.helpers import members, template
from tiers import growth, ladder
from tiers.models import BenefitGrant

DAY = date(2026, 5, 20)


class Crash(Exception):
    """A worker dying at a chosen point."""


def _gift(tier, points: int, template_ids: list[int] | None = None, when: str = "birthday") -> None:
    ladder.save_tier(tier.id, {"benefits": {"birthday_gift": {
        "points": points, "coupon_template_ids": template_ids or [], "when": when}}})


def _born(count: int, tier, birthday: date = date(1990, 5, 20)) -> list[int]:
    return members(count, tier_id=tier.id, birthday=birthday)


def _grants(member_id: int) -> list[tuple[int, str]]:
    return [(e.delta, e.business_key) for e in db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.member_id == member_id, LedgerEntry.kind == "grant")
        .order_by(LedgerEntry.id))]


def _coupons(member_id: int) -> list[tuple[int, str]]:
    return sorted(db.session.execute(select(Coupon.template_id, Coupon.grant_key)
                                     .where(Coupon.member_id == member_id)).all())


def _balance_after_is_a_running_sum() -> None:
    """Each entry's balance_after is the sum of the member's entries up to it (in id order)."""
    running: dict[int, int] = {}
    for entry in db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)):
        running[entry.member_id] = running.get(entry.member_id, 0) + entry.delta
        assert entry.balance_after == running[entry.member_id], (entry.member_id, entry.business_key)


def test_points_coupons_and_notifications_in_batches(tiers):
    t = template(claimable=False)
    _gift(tiers["normal"], 100, [t.id])
    ids = _born(5, tiers["normal"])
    counts = grants.grant_birthday_gifts(DAY, batch_size=2)
    assert counts == {"scanned": 5, "changed": 5, "skipped": 0, "failed": 0}
    for member_id in ids:
        key = f"birthday:{member_id}:2026"
        assert _grants(member_id) == [(100, key)]
        assert _coupons(member_id) == [(t.id, f"{key}:{t.id}:0")]
        assert ledger.summary(member_id)["balance"] == 100
    grant = db.session.scalar(select(BenefitGrant).where(BenefitGrant.member_id == ids[0]))
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.member_id == ids[0]))
    assert (entry.cause_type, entry.cause_id, entry.note) == ("birthday", str(grant.id), "birthday gift")
    lot = db.session.scalar(select(PointsLot).where(PointsLot.entry_id == entry.id))
    assert (lot.amount, lot.remaining, lot.state, lot.expires_at) == (100, 100, "open", entry.expires_at)
    assert entry.expires_at == ledger.expiry_for(entry.created_at)
    notes = db.session.execute(select(Notification.member_id, Notification.idempotency_key, Notification.data)
                               .where(Notification.kind == "points_credited")).all()
    assert sorted(n.member_id for n in notes) == ids
    assert all(n.data["points"] == 100 and n.idempotency_key.startswith("points_credited:") for n in notes)
    assert db.session.get(CouponTemplate, t.id).issued_count == 5
    again = grants.grant_birthday_gifts(DAY, batch_size=2)
    assert again == {"scanned": 5, "changed": 0, "skipped": 5, "failed": 0}
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == 5
    assert db.session.scalar(select(func.count(Coupon.id))) == 5
    assert ledger.verify() == []


def test_a_crash_inside_a_batch_and_between_batches_grants_nothing_twice(tiers, monkeypatch):
    t = template(claimable=False)
    _gift(tiers["normal"], 100, [t.id])
    ids = _born(5, tiers["normal"])

    def crash_at(batch_number: int):
        def checkpoint(job: str, number: int) -> None:
            if number == batch_number:
                raise Crash(job)
        return checkpoint

    monkeypatch.setattr(grants, "batch_checkpoint", crash_at(1))  # written, not committed
    with pytest.raises(Crash):
        grants.grant_birthday_gifts(DAY, batch_size=2)
    db.session.rollback()
    assert db.session.scalar(select(func.count(BenefitGrant.id))) == 0
    assert db.session.scalar(select(func.count(Coupon.id))) == 0
    monkeypatch.setattr(grants, "batch_checkpoint", crash_at(2))  # batch 1 committed, batch 2 lost
    with pytest.raises(Crash):
        grants.grant_birthday_gifts(DAY, batch_size=2)
    db.session.rollback()
    assert db.session.scalar(select(func.count(BenefitGrant.id))) == 2
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == 2
    monkeypatch.setattr(grants, "batch_checkpoint", lambda job, number: None)
    counts = grants.grant_birthday_gifts(DAY, batch_size=2)
    assert counts == {"scanned": 5, "changed": 3, "skipped": 2, "failed": 0}
    for member_id in ids:
        assert _grants(member_id) == [(100, f"birthday:{member_id}:2026")]
        assert len(_coupons(member_id)) == 1
    assert db.session.get(CouponTemplate, t.id).issued_count == 5
    assert ledger.verify() == []


def test_a_crash_in_the_middle_of_the_writes_rolls_the_batch_back(tiers, monkeypatch):
    t = template(claimable=False)
    _gift(tiers["normal"], 100, [t.id])
    ids = _born(3, tiers["normal"])

    def dying_credit(*args, **kwargs):  # the grant rows and coupons are written by now
        raise Crash("killed")

    monkeypatch.setattr(ledger, "credit_many", dying_credit)
    with pytest.raises(Crash):
        grants.grant_birthday_gifts(DAY)
    db.session.rollback()
    monkeypatch.undo()
    assert db.session.scalar(select(func.count(Coupon.id))) == 0
    assert db.session.scalar(select(func.count(BenefitGrant.id))) == 0
    assert grants.grant_birthday_gifts(DAY)["changed"] == 3
    assert all(_grants(m) == [(100, f"birthday:{m}:2026")] for m in ids)


def test_members_granted_by_the_old_path_are_left_alone(tiers):
    """The per-member path wrote the grant row, the credit and the coupon under the same keys."""
    t = template(claimable=False)
    _gift(tiers["normal"], 100, [t.id])
    old, new = _born(2, tiers["normal"])
    key = f"birthday:{old}:2026"
    grant = BenefitGrant(member_id=old, benefit="birthday", period="2026", source="tier:normal",
                         payload={"points": 100})
    db.session.add(grant)
    db.session.flush()
    ledger.credit(old, 100, kind="grant", key=key, cause_type="birthday", cause_id=grant.id, note="birthday gift")
    issuing.grant(old, t.id, key=f"{key}:{t.id}:0", reason="birthday")
    db.session.commit()
    counts = grants.grant_birthday_gifts(DAY)
    assert counts == {"scanned": 2, "changed": 1, "skipped": 1, "failed": 0}
    assert _grants(old) == [(100, key)] and len(_coupons(old)) == 1
    assert _grants(new) == [(100, f"birthday:{new}:2026")]
    assert db.session.get(CouponTemplate, t.id).issued_count == 2


def test_a_ledger_entry_without_its_grant_row_is_not_credited_again(tiers):
    """Belt and braces: the ledger's own key holds even if a grant row went missing."""
    _gift(tiers["normal"], 100)
    (member_id,) = _born(1, tiers["normal"])
    ledger.credit(member_id, 100, kind="grant", key=f"birthday:{member_id}:2026", cause_type="birthday")
    db.session.commit()
    assert grants.grant_birthday_gifts(DAY)["changed"] == 1
    assert _grants(member_id) == [(100, f"birthday:{member_id}:2026")]
    assert ledger.summary(member_id)["balance"] == 100


def test_the_tier_and_its_table_at_the_time_of_each_batch(tiers, monkeypatch):
    _gift(tiers["normal"], 100)
    first, second, upgraded = _born(3, tiers["normal"])
    growth.add_growth(upgraded, 1000, "purchase")  # silver before the job: silver's gift
    db.session.commit()

    def marketing_edits_after_batch_1(job: str, number: int) -> None:
        if number == 1:
            db.session.commit()
            _gift(tiers["normal"], 500)

    monkeypatch.setattr(grants, "batch_checkpoint", marketing_edits_after_batch_1)
    grants.grant_birthday_gifts(DAY, batch_size=1)
    assert _grants(first) == [(100, f"birthday:{first}:2026")]
    assert _grants(second) == [(500, f"birthday:{second}:2026")]
    assert _grants(upgraded) == [(300, f"birthday:{upgraded}:2026")]
    grant = db.session.scalar(select(BenefitGrant).where(BenefitGrant.member_id == upgraded))
    assert grant.source == "tier:silver"
    growth.add_growth(first, 1000, "purchase")  # a later upgrade the same year gives nothing more
    db.session.commit()
    assert grants.grant_birthday_gifts(DAY)["changed"] == 0


def test_29_february_in_a_batch(tiers):
    _gift(tiers["normal"], 100)
    leap = _born(2, tiers["normal"], date(2000, 2, 29))
    plain = _born(1, tiers["normal"], date(1990, 2, 28))
    assert grants.grant_birthday_gifts(date(2026, 2, 28))["changed"] == 3
    assert grants.grant_birthday_gifts(date(2028, 2, 28))["changed"] == 1
    assert grants.grant_birthday_gifts(date(2028, 2, 29))["changed"] == 2
    assert all(len(_grants(m)) == 2 for m in leap + plain)


def test_out_of_stock_members_get_nothing_and_are_retried(tiers):
    t = template(claimable=False, stock=2)
    _gift(tiers["normal"], 100, [t.id])
    ids = _born(3, tiers["normal"])
    counts = grants.grant_birthday_gifts(DAY)
    assert counts == {"scanned": 3, "changed": 2, "skipped": 0, "failed": 1}
    assert [len(_grants(m)) for m in ids] == [1, 1, 0]
    assert _coupons(ids[2]) == []
    assert db.session.scalar(select(BenefitGrant).where(BenefitGrant.member_id == ids[2])) is None
    db.session.get(CouponTemplate, t.id).stock = 3
    db.session.commit()
    assert grants.grant_birthday_gifts(DAY) == {"scanned": 3, "changed": 1, "skipped": 2, "failed": 0}
    assert _grants(ids[2]) == [(100, f"birthday:{ids[2]}:2026")] and len(_coupons(ids[2])) == 1


def test_credit_many_stacks_credits_of_one_member_and_pays_debt_first(tiers):
    a, b = members(2)
    db.session.add(PointsAccount(member_id=b, available=0, pending=0, debt=30))
    db.session.add(LedgerEntry(member_id=b, delta=-30, kind="reverse", business_key="debt", cause_type="test",
                               balance_after=-30))
    db.session.commit()
    results = ledger.credit_many("grant", [
        ledger.Credit(a, 10, "k1", "test"), ledger.Credit(b, 20, "k2", "test"), ledger.Credit(a, 5, "k3", "test"),
        ledger.Credit(a, 99, "k1", "test")])
    assert [(e.business_key, e.balance_after, created) for e, created in results] == [
        ("k1", 10, True), ("k2", -10, True), ("k3", 15, True), ("k1", 10, False)]
    again = ledger.credit_many("grant", [ledger.Credit(a, 10, "k1", "test"), ledger.Credit(b, 40, "k4", "test")])
    assert [(e.business_key, e.balance_after, created) for e, created in again] == [("k1", 10, False),
                                                                                     ("k4", 30, True)]
    db.session.commit()
    assert db.session.get(PointsAccount, b).debt == 0 and ledger.summary(b)["balance"] == 30
    assert ledger.summary(a)["balance"] == 15
    _balance_after_is_a_running_sum()
    with pytest.raises(NotFound):
        ledger.credit_many("grant", [ledger.Credit(a, 1, "k5", "test"), ledger.Credit(987654, 1, "k6", "test")])
    db.session.rollback()


def test_monthly_packs_tier_and_vip_with_real_coupons(tiers, at):
    from vip.models import VipOrder, VipPeriod, VipPlan

    silver_t, gold_t, vip_t = (template(claimable=False) for _ in range(3))
    ladder.save_tier(tiers["silver"].id, {"benefits": {"monthly_pack": [{"coupon_template_id": silver_t.id,
                                                                          "count": 2}]}})
    ladder.save_tier(tiers["gold"].id, {"benefits": {"monthly_pack": [{"coupon_template_id": gold_t.id}]}})
    plan = VipPlan(code="annual", name="VIP", price=100, duration_days=365,
                   benefits={"monthly_pack": [{"coupon_template_id": vip_t.id, "count": 1}]})
    db.session.add(plan)
    db.session.flush()
    silver, vip, mover = members(3, tier_id=tiers["silver"].id)
    at("2026-03-01T00:10:00+08:00")
    order = VipOrder(order_no="VIP1", member_id=vip, plan_id=plan.id, amount=100, duration_days=365, state="paid")
    db.session.add(order)
    db.session.flush()
    db.session.add(VipPeriod(member_id=vip, order_id=order.id, plan_id=plan.id,
                             starts_at=datetime(2026, 1, 1, tzinfo=UTC), ends_at=datetime(2027, 1, 1, tzinfo=UTC)))
    db.session.commit()
    counts = grants.grant_monthly_packs(batch_size=2)
    assert counts == {"scanned": 4, "changed": 4, "skipped": 0, "failed": 0}
    assert _coupons(vip) == sorted([(silver_t.id, f"monthly_pack:{vip}:2026-03:{silver_t.id}:0"),
                                    (silver_t.id, f"monthly_pack:{vip}:2026-03:{silver_t.id}:1"),
                                    (vip_t.id, f"vip_pack:{vip}:2026-03:{vip_t.id}:0")])
    assert len(_coupons(silver)) == 2
    assert grants.grant_monthly_packs("2026-03", batch_size=2) == {"scanned": 4, "changed": 0, "skipped": 4,
                                                                    "failed": 0}
    db.session.get(Member, mover).tier_id = tiers["gold"].id  # a tier change: next month's pack is gold's
    db.session.commit()
    assert grants.grant_monthly_packs("2026-04")["changed"] == 4
    assert (gold_t.id, f"monthly_pack:{mover}:2026-04:{gold_t.id}:0") in _coupons(mover)
    granted = {(g.member_id, g.benefit, g.period): g.source for g in db.session.scalars(select(BenefitGrant))}
    assert granted[(mover, "monthly_pack", "2026-04")] == "tier:gold"
    assert granted[(vip, "vip_pack", "2026-04")] == "vip:annual"
    assert db.session.scalar(select(func.count(Coupon.id))) == (2 + 3 + 2) + (2 + 3 + 1)


def test_purchases_racing_the_batch_grant_keep_the_ledger_exact(tiers, app):
    """Credits of the same members from other transactions while the job runs: the job locks each batch's
    accounts before writing, so balance_after, the lots and the cached accounts stay exact."""
    _gift(tiers["normal"], 100)
    ids = _born(40, tiers["normal"])
    start = threading.Barrier(5)
    errors: list[BaseException] = []

    def till(worker: int) -> None:
        with app.app_context():
            try:
                start.wait()
                for n, member_id in enumerate(ids * 2):
                    ledger.credit(member_id, 7, kind="earn", key=f"order:{worker}:{n}", cause_type="purchase")
                    db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    def job() -> None:
        with app.app_context():
            try:
                start.wait()
                grants.grant_birthday_gifts(DAY, batch_size=7)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

    end_test_transaction()
    threads = [threading.Thread(target=till, args=(w,)) for w in range(4)] + [threading.Thread(target=job)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db.session.expire_all()
    for member_id in ids:
        assert _grants(member_id) == [(100, f"birthday:{member_id}:2026")]
        assert ledger.summary(member_id)["balance"] == 100 + 4 * 2 * 7
    _balance_after_is_a_running_sum()
    assert ledger.verify() == []


def test_a_credit_holding_an_account_lock_makes_the_batch_wait(tiers, app):
    _gift(tiers["normal"], 100)
    ids = _born(3, tiers["normal"])
    locked, release, done = threading.Event(), threading.Event(), threading.Event()

    def purchase() -> None:
        with app.app_context():
            ledger.credit(ids[1], 50, kind="earn", key="order:slow", cause_type="purchase")
            locked.set()
            release.wait(10)
            db.session.commit()

    def job() -> None:
        with app.app_context():
            locked.wait(10)
            grants.grant_birthday_gifts(DAY)
            done.set()

    end_test_transaction()
    threads = [threading.Thread(target=purchase), threading.Thread(target=job)]
    for thread in threads:
        thread.start()
    locked.wait(10)
    done.wait(0.5)  # give the job a moment to reach the lock; the ledger below proves it waited
    release.set()
    for thread in threads:
        thread.join()
    db.session.expire_all()
    entries = [(e.business_key, e.balance_after) for e in db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.member_id == ids[1]).order_by(LedgerEntry.id))]
    assert entries == [("order:slow", 50), (f"birthday:{ids[1]}:2026", 150)]
    assert ledger.verify() == []
