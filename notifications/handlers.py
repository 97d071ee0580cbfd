"""Domain events -> subscribe messages. Runs inside the sender's transaction: only records the message
(sent after the commit by the notify queue), never calls WeChat and never commits."""
from __future__ import annotations

from app import clock, events
from app.extensions import db
from notifications import service
from points.models import PointsAccount

_connected = False


def _name(tier) -> str:
    return str(getattr(tier, "name", None) or getattr(tier, "code", None) or tier or "")


def _tier_item(day: str, member_id: int, from_tier=None, to_tier=None, **_) -> service.Item:
    to_code = getattr(to_tier, "code", to_tier)
    return service.Item(member_id, f"tier_changed:{member_id}:{to_code}:{day}",
                        {"tier": _name(to_tier), "previous": _name(from_tier)})


def on_tier_changed(sender, member_id: int, from_tier=None, to_tier=None, **_) -> None:
    service.notify_many("tier_changed", [_tier_item(clock.business_today().isoformat(), member_id, from_tier, to_tier)])


def on_tiers_changed(sender, changes: list[dict], **_) -> None:
    """A review batch's changes: their messages in one statement."""
    day = clock.business_today().isoformat()
    service.notify_many("tier_changed", [_tier_item(day, **change) for change in changes])


def _balance(member_id: int) -> int:
    """Spendable points after the credit (the account row is in the session, locked by the ledger)."""

    account = db.session.get(PointsAccount, member_id)
    return 0 if account is None else account.available - account.debt


def on_purchase_recorded(sender, member_id: int, purchase_id: int, order_no: str, points_earned: int,
                         earn_entry_id: int | None, **_) -> None:
    if not points_earned:
        return
    key = f"points_credited:{earn_entry_id}" if earn_entry_id else f"purchase:{purchase_id}"
    service.notify(member_id, "points_credited", key,
                   {"points": points_earned, "balance": _balance(member_id), "reason": f"消费 {order_no}"})


def on_points_credited(sender, credits: list[dict], **_) -> None:
    service.notify_many("points_credited", [
        service.Item(c["member_id"], f"points_credited:{c['entry_id']}",
                     {"points": c["amount"], "balance": c["balance"], "reason": c.get("reason") or ""})
        for c in credits])


def on_redemption_ready(sender, member_id: int, redemption_id: int, item: str = "", store=None, **_) -> None:
    service.notify(member_id, "redemption_ready", f"redemption_ready:{redemption_id}",
                   {"item": item, "store": store or ""})


def connect() -> None:
    global _connected
    if _connected:  # create_app runs once per test session and once per worker process
        return
    events.tier_changed.connect(on_tier_changed)
    events.tiers_changed.connect(on_tiers_changed)
    events.purchase_recorded.connect(on_purchase_recorded)
    events.points_credited.connect(on_points_credited)
    events.redemption_ready.connect(on_redemption_ready)
    _connected = True
