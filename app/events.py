"""In-process domain events (blinker, which Flask already ships).

A domain announces what happened; other domains subscribe in their `handlers.py`. Receivers run
synchronously inside the sender's transaction, so a handler's writes commit or roll back with the cause
(e.g. a first-purchase task reward commits with the purchase). A handler must not commit.
"""
from blinker import Namespace

_events = Namespace()

# sender: None; kwargs: member_id, is_new
member_registered = _events.signal("member-registered")
# kwargs: member_id, purchase_id, order_no, points_earned, earn_entry_id (or None), first (bool), store_id, paid
# (fen), points_spent -- emitted by the till's purchase service. A receiver may return a dict of fields for the
# till's answer (distribution names the attributed promoter); `answer_fields` merges them.
purchase_recorded = _events.signal("purchase-recorded")
# kwargs: member_id, purchase_id, refund_id, full (bool), first (bool: a full refund of the member's first purchase),
# order_no, amount (fen refunded)
purchase_refunded = _events.signal("purchase-refunded")
# kwargs: member_id, from_tier, to_tier, reason
tier_changed = _events.signal("tier-changed")
# kwargs: changes: [{member_id, from_tier, to_tier, reason}] -- a batch of tier changes (a review batch), sent
# once per batch so its receivers write once per batch (as points_credited does for a grant batch); a change
# made one member at a time (growth, a refund) is a tier_changed. Received by notifications.handlers and
# webhooks.handlers.
tiers_changed = _events.signal("tiers-changed")
# kwargs: member_id, fields (names changed: "phone" when a phone is bound) -- nickname/birthday/phone change
profile_updated = _events.signal("profile-updated")
# kwargs: credits: [{member_id, entry_id, amount, balance, reason}] -- points credited outside a purchase (task, grant,
# adjustment), one send per ledger write: a single credit or a grant job's whole batch (so a batch records its
# notifications in one statement); a purchase's earned points are announced by purchase_recorded.
# Received by notifications.handlers.
points_credited = _events.signal("points-credited")
# kwargs: member_id, redemption_id, item (name), store (name or None) -- a redeemed gift is ready for pickup
redemption_ready = _events.signal("redemption-ready")
# kwargs: member_id, order_id, vip_until -- a paid VIP card took effect (emitted by vip.service inside the payment's
# transaction); benefits grant the month's VIP pack at once
vip_activated = _events.signal("vip-activated")
# kwargs: member_id, entry_id, amount, balance, kind (spend, redeem, ...), cause_type, cause_id -- points spent or
# taken (points.ledger.debit)
points_debited = _events.signal("points-debited")
# kwargs: lot_ids -- an expiry batch closed these lots and wrote their expire rows (points.expiry); a receiver
# reads the rows it needs
points_expired = _events.signal("points-expired")
# kwargs: coupons: [{member_id, template_id, title, kind, source, grant_key, valid_until}] -- coupons issued (one or
# a batch, coupons.issuing)
coupons_issued = _events.signal("coupons-issued")
# kwargs: member_id, coupon_ids, purchase_id (None: verified on its own at a till), store_id (or None)
coupons_used = _events.signal("coupons-used")
# kwargs: coupon_ids -- an expiry batch marked these coupons expired (coupons.expiry)
coupons_expired = _events.signal("coupons-expired")
# kwargs: member_id, redemption_id, item_id, quantity, points -- a points-mall redemption was made (mall.service)
redemption_created = _events.signal("redemption-created")
# kwargs: member_id, redemption_id, store_id -- a points-mall gift was handed over at a till, its cash part (if
# any) paid there (emitted by mall.service.fulfil inside its transaction); distribution attributes that cash
redemption_fulfilled = _events.signal("redemption-fulfilled")
# kwargs: member_id, task_code, completion_id (a task completion's or a check-in's id), points, growth -- a
# shopper's task (or daily check-in) was completed and rewarded (tasks)
task_completed = _events.signal("task-completed")


def answer_fields(results: list[tuple[object, object]]) -> dict:
    """The fields receivers add to the sender's answer: blinker's send results, the dicts merged, None ignored.
    A lower layer's answer can so name what an upper layer decided without importing it."""
    fields: dict = {}
    for _, value in results:
        if value:
            fields.update(value)
    return fields
