"""Helpers that build a known history: members, purchases, refunds and ledger moves through points.ledger."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from members.models import Member, Tier
from points import ledger as points
from till.models import Purchase, Refund

_codes = itertools.count(1)


class History:
    def __init__(self, store_id: int):
        self.store_id = store_id

    def member(self, name: str = "", tier: str | None = None, invited_by: int | None = None, **fields) -> int:
        tier_id = db.session.scalar(select(Tier.id).where(Tier.code == tier)) if tier else None
        member = Member(nickname=name or None, invite_code=f"T{next(_codes):07d}", tier_id=tier_id,
                        invited_by_id=invited_by, created_at=clock.now(), **fields)
        db.session.add(member)
        db.session.commit()
        return member.id

    def purchase(self, member_id: int, paid: int, earn: int = 0, order_no: str | None = None) -> Purchase:
        order_no = order_no or f"O{next(_codes)}"
        purchase = Purchase(store_id=self.store_id, order_no=order_no, member_id=member_id, request_hash="h",
                            subtotal=paid, paid=paid, points_earned=earn, created_at=clock.now())
        db.session.add(purchase)
        db.session.flush()
        if earn:
            entry = points.credit(member_id, earn, kind="earn", key=f"purchase:{order_no}", cause_type="purchase",
                                  cause_id=purchase.id)
            purchase.earn_entry_id = entry.id
        db.session.commit()
        return purchase

    def refund(self, purchase: Purchase, amount: int, points_back: int = 0) -> None:
        refund = Refund(store_id=self.store_id, purchase_id=purchase.id, refund_no=f"R{next(_codes)}", amount=amount,
                        request_hash="h", points_reversed=points_back, created_at=clock.now())
        db.session.add(refund)
        purchase.refunded_amount += amount
        db.session.flush()
        if points_back:
            points.reverse(purchase.member_id, points_back, key=f"refund:{refund.refund_no}", cause_type="refund",
                           cause_id=refund.id, source_entry_id=purchase.earn_entry_id)
        db.session.commit()

    def grant(self, member_id: int, amount: int, expires_at=None, kind: str = "grant"):
        entry = points.credit(member_id, amount, kind=kind, key=f"g{next(_codes)}", cause_type="grant",
                              expires_at=expires_at)
        db.session.commit()
        return entry

    def debit(self, member_id: int, amount: int, kind: str = "spend"):
        entry = points.debit(member_id, amount, kind=kind, key=f"d{next(_codes)}", cause_type="redemption")
        db.session.commit()
        return entry

    def restore(self, entry, amount: int):
        points.restore(entry.id, amount, key=f"r{next(_codes)}", cause_type="refund")
        db.session.commit()


@pytest.fixture
def history(stores, tiers):
    return History(stores["S1"].id)
