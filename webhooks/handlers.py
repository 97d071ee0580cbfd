"""Domain events -> the webhook outbox, inside the sender's transaction (never sends, never commits).

Each receiver first asks whether any endpoint wants its event type (webhooks.outbox.wanted: a per-process
copy), so with no endpoint it builds nothing and reads nothing. Event data is plain JSON: ids, amounts in
fen or points, codes, ISO times.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from app import clock, events
from app.extensions import db
from coupons.models import Coupon
from points.models import LedgerEntry
from webhooks.outbox import record, wanted

_connected = False


def _plain(value):
    if isinstance(value, datetime):
        return clock.as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _one(event_type: str, member_id: int | None, **data) -> None:
    if wanted(event_type):
        record(event_type, [(member_id, {"member_id": member_id, **{k: _plain(v) for k, v in data.items()}})])


def on_member_registered(sender, member_id: int, **_) -> None:
    _one("member.created", member_id)


def on_tier_changed(sender, member_id: int, from_tier=None, to_tier=None, reason=None, **_) -> None:
    _one("member.updated", member_id, change="tier", from_tier=getattr(from_tier, "code", from_tier),
         to_tier=getattr(to_tier, "code", to_tier), reason=reason)


def on_tiers_changed(sender, changes: list[dict], **_) -> None:
    """A tier review's batch: its member.updated events in one statement."""
    if wanted("member.updated"):
        record("member.updated", [(c["member_id"], {
            "member_id": c["member_id"], "change": "tier", "from_tier": getattr(c.get("from_tier"), "code",
                                                                                c.get("from_tier")),
            "to_tier": getattr(c.get("to_tier"), "code", c.get("to_tier")), "reason": c.get("reason")})
            for c in changes])


def on_profile_updated(sender, member_id: int, fields=(), **_) -> None:
    _one("member.updated", member_id, change="phone" if "phone" in fields else "profile", fields=list(fields))


def on_vip_activated(sender, member_id: int, order_id: int, vip_until=None, **_) -> None:
    _one("vip.activated", member_id, order_id=order_id, vip_until=vip_until)
    _one("member.updated", member_id, change="vip", vip_until=vip_until)


def on_purchase_recorded(sender, member_id: int, purchase_id: int, order_no: str, points_earned: int = 0,
                         earn_entry_id=None, store_id=None, paid=None, points_spent=0, **_) -> None:
    _one("purchase.recorded", member_id, purchase_id=purchase_id, order_no=order_no, store_id=store_id, paid=paid,
         points_earned=points_earned, points_spent=points_spent)
    if points_earned:
        _one("points.credited", member_id, amount=points_earned, entry_id=earn_entry_id, reason="purchase",
             cause_id=purchase_id)


def on_purchase_refunded(sender, member_id: int, purchase_id: int, refund_id: int, full: bool = False,
                         order_no=None, amount=None, **_) -> None:
    _one("purchase.refunded", member_id, purchase_id=purchase_id, refund_id=refund_id, order_no=order_no,
         amount=amount, full=full)


def on_points_credited(sender, credits: list[dict], **_) -> None:
    if wanted("points.credited"):
        record("points.credited", [(c["member_id"], {
            "member_id": c["member_id"], "amount": c["amount"], "entry_id": c["entry_id"], "balance": c["balance"],
            "reason": c.get("reason") or ""}) for c in credits])


def on_points_debited(sender, member_id: int, entry_id: int, amount: int, balance: int, kind: str,
                      cause_type: str, cause_id=None, **_) -> None:
    _one("points.debited", member_id, amount=amount, entry_id=entry_id, balance=balance, kind=kind,
         cause_type=cause_type, cause_id=None if cause_id is None else str(cause_id))


def on_points_expired(sender, lot_ids: list[int], **_) -> None:
    if not wanted("points.expired"):
        return
    rows = db.session.execute(select(LedgerEntry.id, LedgerEntry.member_id, LedgerEntry.delta,
                                     LedgerEntry.balance_after, LedgerEntry.cause_id)
                              .where(LedgerEntry.business_key.in_([f"lot:{i}" for i in lot_ids]),
                                     LedgerEntry.kind == "expire")).all()
    record("points.expired", [(row.member_id, {
        "member_id": row.member_id, "amount": -row.delta, "entry_id": row.id, "balance": row.balance_after,
        "lot_id": int(row.cause_id)}) for row in rows])


def on_coupons_issued(sender, coupons: list[dict], **_) -> None:
    if wanted("coupon.issued"):
        record("coupon.issued", [(c["member_id"], {k: _plain(v) for k, v in c.items()}) for c in coupons])


def on_coupons_used(sender, member_id: int, coupon_ids: list[int], purchase_id=None, store_id=None, **_) -> None:
    if wanted("coupon.used"):
        record("coupon.used", [(member_id, {"member_id": member_id, "coupon_id": coupon_id,
                                            "purchase_id": purchase_id, "store_id": store_id})
                               for coupon_id in coupon_ids])


def on_coupons_expired(sender, coupon_ids: list[int], **_) -> None:
    if not wanted("coupon.expired"):
        return
    rows = db.session.execute(select(Coupon.id, Coupon.member_id, Coupon.template_id, Coupon.title).where(
        Coupon.id.in_(coupon_ids), Coupon.state == "expired")).all()
    record("coupon.expired", [(row.member_id, {"member_id": row.member_id, "coupon_id": row.id,
                                               "template_id": row.template_id, "title": row.title})
                              for row in rows])


def on_redemption_created(sender, member_id: int, redemption_id: int, item_id: int, quantity: int, points: int,
                          **_) -> None:
    _one("redemption.created", member_id, redemption_id=redemption_id, item_id=item_id, quantity=quantity,
         points=points)


def on_redemption_fulfilled(sender, member_id: int, redemption_id: int, store_id: int, **_) -> None:
    _one("redemption.fulfilled", member_id, redemption_id=redemption_id, store_id=store_id)


def on_task_completed(sender, member_id: int, task_code: str, completion_id: int, points: int = 0, growth: int = 0,
                      **_) -> None:
    _one("task.completed", member_id, task_code=task_code, completion_id=completion_id, points=points, growth=growth)


RECEIVERS = [
    (events.member_registered, on_member_registered), (events.tier_changed, on_tier_changed),
    (events.tiers_changed, on_tiers_changed),
    (events.profile_updated, on_profile_updated), (events.vip_activated, on_vip_activated),
    (events.purchase_recorded, on_purchase_recorded), (events.purchase_refunded, on_purchase_refunded),
    (events.points_credited, on_points_credited), (events.points_debited, on_points_debited),
    (events.points_expired, on_points_expired), (events.coupons_issued, on_coupons_issued),
    (events.coupons_used, on_coupons_used), (events.coupons_expired, on_coupons_expired),
    (events.redemption_created, on_redemption_created), (events.redemption_fulfilled, on_redemption_fulfilled),
    (events.task_completed, on_task_completed),
]


def connect() -> None:
    global _connected
    if _connected:  # create_app runs once per test session and once per worker process
        return
    for signal, receiver in RECEIVERS:
        signal.connect(receiver)
    _connected = True
