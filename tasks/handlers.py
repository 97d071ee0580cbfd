"""Receivers for other domains' events; they run inside the sender's transaction and never commit."""
from __future__ import annotations

from app import events
from tasks import referrals


def _profile_updated(sender, **kwargs) -> None:
    referrals.on_profile_updated(kwargs["member_id"])


def _purchase_recorded(sender, **kwargs) -> None:
    referrals.on_purchase_recorded(kwargs["member_id"], kwargs.get("purchase_id"), bool(kwargs.get("first")))


def _purchase_refunded(sender, **kwargs) -> None:
    referrals.on_purchase_refunded(kwargs["member_id"], bool(kwargs.get("first")))


def connect() -> None:
    events.profile_updated.connect(_profile_updated, weak=False)
    events.purchase_recorded.connect(_purchase_recorded, weak=False)
    events.purchase_refunded.connect(_purchase_refunded, weak=False)
