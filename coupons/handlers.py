"""Coupons listen to members (registration gifts) and to the till (a full refund restores coupons)."""
from __future__ import annotations

from app import events
from coupons import checkout, issuing


def _on_member_registered(sender, member_id: int, **kwargs) -> None:
    issuing.grant_new_member_coupons(member_id)


def _on_purchase_refunded(sender, purchase_id: int, full: bool = False, **kwargs) -> None:
    """Only a full refund gives coupons back (restore_for_refund says why); calling it twice is harmless,
    so the till may also call it directly."""
    if full:
        checkout.restore_for_refund(purchase_id)


def connect() -> None:
    events.member_registered.connect(_on_member_registered, weak=False)
    events.purchase_refunded.connect(_on_purchase_refunded, weak=False)
