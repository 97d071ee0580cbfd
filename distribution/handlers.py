"""Receivers of the till's and the mall's events: attribute a purchase or a gift's cash part, take commission back
on a refund. They run inside the sender's transaction (a commission commits with its sale) and never commit."""
from __future__ import annotations

from app import events
from distribution import attribution


def _purchase_recorded(sender, **kwargs) -> dict | None:
    return attribution.on_purchase(kwargs["member_id"], kwargs["purchase_id"])


def _purchase_refunded(sender, **kwargs) -> None:
    attribution.on_refund(kwargs["purchase_id"], kwargs["refund_id"])


def _redemption_fulfilled(sender, **kwargs) -> None:
    attribution.on_redemption(kwargs["member_id"], kwargs["redemption_id"])


def connect() -> None:
    events.purchase_recorded.connect(_purchase_recorded, weak=False)
    events.purchase_refunded.connect(_purchase_refunded, weak=False)
    events.redemption_fulfilled.connect(_redemption_fulfilled, weak=False)
