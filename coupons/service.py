"""Coupons: the calls other domains make (the till, tiers, VIP, tasks, mall).

Placeholder until the coupons issue lands: with no coupon templates yet, a cart gets no coupon
discount, a named coupon is unknown (404), and a grant names an unknown template (404).
The signatures below are the contract the till and the granting domains code against.
"""
from __future__ import annotations

from app.errors import NotFound


def quote_coupons(member_id: int, lines: list[dict], coupon_ids: list[int] | None) -> dict:
    """Best (coupon_ids None) or given coupons for a cart whose `lines` are
    [{sku, category, qty, unit_price, total}] after member prices.
    -> {"coupon_ids": [...], "discount": fen, "coupons": [{id, code, title, discount}]}"""
    if coupon_ids:
        raise NotFound(f"Coupon {coupon_ids[0]} does not exist.", code="coupon_not_found")
    return {"coupon_ids": [], "discount": 0, "coupons": []}


def use_for_purchase(member_id: int, coupon_ids: list[int], lines: list[dict], purchase_id: int) -> int:
    """Mark the coupons used by a purchase inside the caller's transaction (atomic: a coupon used
    twice at once -> one wins, the other 409). Returns the discount in fen."""
    if coupon_ids:
        raise NotFound(f"Coupon {coupon_ids[0]} does not exist.", code="coupon_not_found")
    return 0


def restore_for_refund(purchase_id: int) -> int:
    """A full refund gives back the purchase's unexpired coupons; returns how many."""
    return 0


def grant(member_id: int, template_id: int, *, key: str, reason: str):
    """Issue one coupon automatically (birthday, tier/VIP pack, task reward, mall item), idempotent by
    `key`, inside the caller's transaction. Returns the coupon."""
    raise NotFound(f"Coupon template {template_id} does not exist.", code="coupon_template_not_found")


def usable_for_member(member_id: int) -> list[dict]:
    """The member's coupons usable now (shown at the till after a scan)."""
    return []
