"""Members with lots in known states, and the expected end state of an expiry run."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from app import clock
from app.extensions import db
from members.models import Member, MemberIdentity
from points import ledger as ledger
from points.models import LedgerEntry, PointsAccount, PointsLot

DAY = date(2026, 3, 1)  # the run's business day: lots expiring by its start are due


def make_member(name: str) -> int:
    member = Member(invite_code=f"INV{name.upper()}"[:16], nickname=name)
    db.session.add(member)
    db.session.flush()
    db.session.add(MemberIdentity(member_id=member.id, kind="openid", app_id="wx-test-appid", value=f"openid-{name}"))
    db.session.commit()
    return member.id


def credit(member_id: int, amount: int, key: str, expires: date, available_at=None) -> None:
    """A lot expiring at the end of business day `expires`."""
    ledger.credit(member_id, amount, kind="grant", key=key, cause_type="test",
                  expires_at=clock.end_of_business_day(expires), available_at=available_at)
    db.session.commit()


def spend(member_id: int, amount: int, key: str) -> None:
    ledger.debit(member_id, amount, kind="spend", key=key, cause_type="test")
    db.session.commit()


def seed_population(members: int = 6) -> dict[int, dict]:
    """Each member: two due lots (one half spent), one lot due later; returns what each should end with."""
    expected = {}
    clock.set_now(clock.start_of_business_day(DAY - timedelta(days=40)))
    for index in range(members):
        member_id = make_member(f"m{index}")
        credit(member_id, 100 + index, f"a{index}", DAY - timedelta(days=2))
        credit(member_id, 50, f"b{index}", DAY - timedelta(days=1))
        credit(member_id, 70, f"c{index}", DAY + timedelta(days=30))
        spend(member_id, 60 + index, f"s{index}")  # from lot a: a keeps 40 (of 100+index)
        expected[member_id] = {"available": 70, "expired": 40 + 50}
    return expected


def state_of(member_id: int) -> dict:
    account = db.session.get(PointsAccount, member_id)
    expire_rows = db.session.execute(
        select(LedgerEntry.business_key, LedgerEntry.delta).where(
            LedgerEntry.member_id == member_id, LedgerEntry.kind == "expire").order_by(LedgerEntry.id)).all()
    return {"available": account.available, "expired": -sum(delta for _, delta in expire_rows),
            "expire_keys": sorted(key for key, _ in expire_rows)}


def assert_balances_chain() -> None:
    """Every member's balance_after equals the running sum of their ledger (the chain a clean run writes)."""
    running: dict[int, int] = {}
    for member_id, delta, balance_after in db.session.execute(
            select(LedgerEntry.member_id, LedgerEntry.delta, LedgerEntry.balance_after).order_by(LedgerEntry.id)):
        running[member_id] = running.get(member_id, 0) + delta
        assert balance_after == running[member_id], f"member {member_id}: balance_after {balance_after}"


def open_due_lots(cutoff) -> int:
    return db.session.scalar(select(func.count()).select_from(PointsLot).where(
        PointsLot.state == "open", PointsLot.expires_at <= cutoff))
