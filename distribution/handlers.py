"""Receivers of the till's events: attribute a purchase, take commission back on a refund. They run inside the
till's transaction (a commission commits with its sale) and never commit."""
from __future__ import annotations

from app import events
from distribution import attribution


def _purchase_recorded(sender, **kwargs) -> dict | None:
    return attribution.on_purchase(kwargs["member_id"], kwargs["purchase_id"])


def _purchase_refunded(sender, **kwargs) -> None:
    attribution.on_refund(kwargs["purchase_id"], kwargs["refund_id"])


def connect() -> None:
    events.purchase_recorded.connect(_purchase_recorded, weak=False)
    events.purchase_refunded.connect(_purchase_refunded, weak=False)
