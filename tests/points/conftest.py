"""Fixtures of the points tests: a small catalogue, a member at the till, points given straight to the ledger."""
from __future__ import annotations

from datetime import datetime

import pytest

from app.extensions import db
from catalog.models import Product
from members import member_code
from points import ledger as ledger
from points.models import PointsPolicy

CATALOGUE = [
    ("LATTE", "coffee", 3000, {"silver": 2800, "gold": 2500, "vip": 2200}),
    ("TEA", "tea", 2000, {"gold": 1800}),
    ("CAKE", "bakery", 1000, {}),
    ("MUG", "merch", 10000, {"vip": 8000}),
]


@pytest.fixture
def catalogue(tiers):
    for sku, category, price, member_prices in CATALOGUE:
        db.session.add(Product(sku=sku, name=sku.title(), category=category, list_price=price,
                               member_prices=member_prices, active=True))
    db.session.add(Product(sku="OLD", name="Old", category="tea", list_price=500, member_prices={}, active=False))
    db.session.add(PointsPolicy(id=1, points_per_yuan=1, expiry_kind="rolling_months", expiry_months=12,
                                expiry_years=1, pending_days=0, points_per_yuan_value=100, max_deduction_percent=50))
    db.session.commit()


@pytest.fixture
def shopper(login, catalogue):
    """A logged-in member on the entry tier: (token, member_id)."""
    return login("alice")


@pytest.fixture
def give():
    """give(member_id, points, expires_at=None, key=...) -> credit straight to the ledger, committed."""
    counter = {"n": 0}

    def do(member_id: int, amount: int, expires_at: datetime | None = None) -> int:
        counter["n"] += 1
        entry = ledger.credit(member_id, amount, kind="grant", key=f"test-grant:{member_id}:{counter['n']}",
                              cause_type="grant", expires_at=expires_at)
        db.session.commit()
        return entry.id

    return do


@pytest.fixture
def buy(client, staff):
    """buy(member_id, items, paid=None, **extra) posts a purchase; paid defaults to the quote's payable."""
    counter = {"n": 0}

    def do(member_id: int, items: list[tuple[str, int]], paid: int | None = None, headers=None, **extra):
        counter["n"] += 1
        order_no = extra.pop("order_no", None) or f"T{counter['n']:04d}"
        body = {"member_id": member_id, "items": [{"sku": s, "qty": q} for s, q in items], **extra}
        if paid is None:
            quote = client.post("/api/v1/pos/quote", json=body, headers=headers or staff)
            assert quote.status_code == 200, quote.get_json()
            paid = quote.get_json()["payable"]
        body = {"order_no": order_no, **body, "paid": paid}
        if (extra.get("points_to_use") or extra.get("coupon_ids")) and "override_reason" not in extra:
            # the shopper shows their code: points and coupons are spent only so (till.purchases.check_presence)
            code = member_code.issue(member_id).code
            body = {k: v for k, v in body.items() if k != "member_id"} | {"member_code": code}
        return client.post("/api/v1/pos/purchases", json=body, headers=headers or staff)

    return do
