"""Benefits listen to the paid VIP: the card's monthly pack arrives when it is paid, not at the next monthly run."""
from __future__ import annotations

from app import events
from benefits import grants


def _on_vip_activated(sender, member_id: int, **kwargs) -> None:
    grants.grant_vip_pack_now(member_id)


def connect() -> None:
    events.vip_activated.connect(_on_vip_activated, weak=False)
