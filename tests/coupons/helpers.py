"""Builders shared by the coupon tests: templates through the service, members and purchases as rows."""
from __future__ import annotations

import itertools

from sqlalchemy import func, select

from app.auth import issue_token
from app.extensions import db
from catalog.models import Product
from coupons import templates
from coupons.models import CouponTemplate
from coupons.schemas import TemplateIn
from members.models import Member
from till.models import Purchase

_seq = itertools.count(1)


def _catalogue_for(spec: dict) -> None:
    """The products a template names must exist (the service refuses unknown SKUs and categories)."""
    scope = spec.get("scope") or {}
    skus = set(scope.get("values", [])) if scope.get("kind") == "skus" else set()
    if spec.get("gift_sku"):
        skus.add(spec["gift_sku"])
    categories = set(scope.get("values", [])) if scope.get("kind") == "categories" else set()
    rows = [(sku, "food") for sku in skus] + [(f"CAT-{c}", c) for c in categories]
    for sku, category in rows:
        if db.session.scalar(db.select(Product).where(Product.sku == sku)) is None:
            db.session.add(Product(sku=sku, name=sku, category=category, list_price=1000, member_prices={}))
    db.session.commit()


def template(**overrides):
    n = next(_seq)
    spec = {"code": f"T{n}", "title": f"coupon {n}", "kind": "amount_off", "amount_off": 2000, "threshold": 10000,
            "validity": {"kind": "relative", "days": 30}, "claimable": True}
    spec.update(overrides)
    _catalogue_for(spec)
    return templates.create_template(TemplateIn().load(spec))  # as the API would parse it


def no_such_template() -> int:
    """An id no coupon template has (past the highest one): call it after creating the test's templates."""
    return (db.session.scalar(select(func.max(CouponTemplate.id))) or 0) + 1000


def member(**fields) -> Member:
    n = next(_seq)
    row = Member(invite_code=f"INV{n:05d}", **fields)
    db.session.add(row)
    db.session.commit()
    return row


def members(count: int, **fields) -> list[int]:
    start = next(_seq) * 100_000
    rows = [Member(invite_code=f"B{start + i}", **fields) for i in range(count)]
    db.session.add_all(rows)
    db.session.commit()
    return [m.id for m in rows]


def member_headers(member_id: int) -> dict:
    return {"Authorization": f"Bearer {issue_token('member', member_id)}"}


def purchase(member_id: int, store_id: int) -> int:
    """A bare purchase row, counted on the member as the till counts it (what "new member" reads)."""
    row = Purchase(store_id=store_id, order_no=f"O{next(_seq)}", member_id=member_id, request_hash="x",
                   subtotal=0, paid=0)
    db.session.add(row)
    db.session.get(Member, member_id).purchase_count += 1
    db.session.commit()
    return row.id


def line(sku: str, unit_price: int, qty: int = 1, category: str = "food") -> dict:
    return {"sku": sku, "category": category, "qty": qty, "unit_price": unit_price, "total": unit_price * qty}
