"""The till's quote: member prices, coupons, the points a member may use and their value, what they earn.

`build` writes nothing; the purchase service calls it under the member's account lock so the balance it
reads is the one it spends.
"""
from __future__ import annotations

import math
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import func, or_, select

from app import clock, transactions
from app.errors import ValidationError
from app.extensions import db
from catalog import service as products
from coupons import checkout
from members import member_code
from members import service as members_service
from members.models import Member
from points import ledger as ledger
from points.models import PointsLot, PointsPolicy
from till import earn_rules

MAX_ORDER_FEN = 100_000_000  # 1,000,000 yuan: one till order above this is a typo


def resolve_member(body: dict) -> Member:
    """The member a till request names: a scanned code (checked, not burnt) or an id."""
    if body.get("member_code") is not None:
        return member_code.resolve(body["member_code"])
    return members_service.get_member(body["member_id"])


def drawable_points(member_id: int) -> int:
    """Points the member could spend now: open lots not past their expiry (what `debit` will draw)."""
    now = clock.now()
    total = db.session.scalar(
        select(func.coalesce(func.sum(PointsLot.remaining), 0)).where(
            PointsLot.member_id == member_id, PointsLot.state == "open", PointsLot.remaining > 0,
            or_(PointsLot.expires_at.is_(None), PointsLot.expires_at > now))
    )
    return int(total)  # a member in debt has no open lots (the ledger pays debt before opening a lot)


def points_step(policy: PointsPolicy | SimpleNamespace) -> tuple[int, int]:
    """(points, fen): the smallest number of points worth a whole number of fen, and that value."""
    divisor = math.gcd(policy.points_per_yuan_value, 100)
    return policy.points_per_yuan_value // divisor, 100 // divisor


def _lines(member: Member, items: list[dict], catalogue: dict[str, SimpleNamespace]) -> list[dict]:
    skus = [item["sku"] for item in items]
    seen: set[str] = set()
    for index, sku in enumerate(skus):
        if sku in seen:
            raise ValidationError(f"items.{index}.sku", "This SKU is already in the cart; send one line per SKU.",
                                  code="duplicate_sku")
        seen.add(sku)
    lines = []
    for index, item in enumerate(items):
        product = catalogue.get(item["sku"])
        if product is None:
            raise ValidationError(f"items.{index}.sku", f"Unknown SKU {item['sku']}.", code="unknown_sku")
        if not product.active:
            raise ValidationError(f"items.{index}.sku", f"{item['sku']} is not on sale.", code="product_inactive")
        unit = products.unit_price(product, member)
        lines.append({"sku": product.sku, "name": product.name, "category": product.category, "qty": item["qty"],
                      "list_price": product.list_price, "unit_price": unit, "total": unit * item["qty"]})
    return lines


def build(member: Member, items: list[dict], coupon_ids: list[int] | None, points_to_use: int | None,
          for_purchase: bool = False) -> dict:
    """The whole quote for a cart (see API.md "Quote answer"); raises 422/409 on what cannot be bought.
    A purchase that uses no points skips reading the balance (its answer does not show it)."""
    policy = ledger.policy_copy()
    lines = _lines(member, items, products.catalogue_copy())
    subtotal = sum(line["total"] for line in lines)
    if subtotal > MAX_ORDER_FEN:
        raise ValidationError("items", f"The order exceeds {MAX_ORDER_FEN} fen.", code="order_too_large")
    coupon_lines = [{k: line[k] for k in ("sku", "category", "qty", "unit_price", "total")} for line in lines]
    coupons = checkout.quote_coupons(member.id, coupon_lines, coupon_ids)
    coupon_discount = min(int(coupons["discount"]), subtotal)
    after_coupons = subtotal - coupon_discount

    step_points, step_fen = points_step(policy)
    cap_value = after_coupons * policy.max_deduction_percent // 100
    cap_points = cap_value // step_fen * step_points
    used = points_to_use or 0
    balance = 0 if for_purchase and not used else drawable_points(member.id)
    usable = min(balance, cap_points) // step_points * step_points
    if used:
        if used % step_points:
            raise ValidationError("points_to_use", f"Must be a multiple of {step_points}.", code="points_step")
        if used > cap_points:
            raise ValidationError("points_to_use", f"At most {cap_points} points may pay for this order "
                                  f"({policy.max_deduction_percent}% cap).", code="points_over_cap")
        if used > balance:
            raise ledger.InsufficientPoints(f"Only {balance} points are available; {used} asked.")
    points_value = used // step_points * step_fen
    payable = after_coupons - points_value
    day = clock.business_today()
    earn = earn_rules.compute(member, lines, payable, day, policy, earn_rules.active_copy())
    pending_until = clock.now() + timedelta(days=policy.pending_days) if policy.pending_days > 0 else None
    return {
        "member_id": member.id,
        "lines": lines,
        "subtotal": subtotal,
        "coupon_ids": list(coupons["coupon_ids"]),
        "coupons": list(coupons.get("coupons", [])),
        "coupon_discount": coupon_discount,
        "points_balance": balance,
        "points_usable": usable,
        "points_usable_value": usable // step_points * step_fen,
        "points_used": used,
        "points_value": points_value,
        "payable": payable,
        "points_to_earn": earn["points"],
        "points_pending_until": pending_until,
        "earn_expires_at": ledger.expiry_for(clock.now(), policy),
        "applied_rules": earn["applied_rules"],
        "rule_points": earn["rule_points"],
        "business_date": day,
    }


def quote(body: dict) -> dict:
    member = resolve_member(body)
    result = build(member, body["items"], body.get("coupon_ids"), body.get("points_to_use"))
    transactions.end_read_only()  # a quote writes nothing (but the policy's default row, created on first use)
    return result
