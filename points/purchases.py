"""Purchases and refunds at the till: one transaction each, idempotent by order_no / refund_no.

The unique constraints (store, order_no) and (store, refund_no) decide a race; the member's account lock
(taken before anything is read) serializes every purchase and refund of one member, so a retried request
that waited on the lock finds the first one's row and returns its stored answer. The same key with a
different body (compared by a hash of the canonical request) is a 409.
"""
from __future__ import annotations

import hashlib
import json

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from app import clock, events
from app.errors import ApiError, Conflict, NotFound, ValidationError
from app.extensions import db
from coupons import service as coupons_service
from members import member_code
from members import service as members_service
from members.models import Member
from points import earn_rules, pricing
from points import service as ledger
from points.models import PointsAccount, Purchase, PurchaseLine, Refund


def request_hash(body: dict) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _find_purchase(store_id: int, order_no: str) -> Purchase | None:
    return db.session.scalar(select(Purchase).where(Purchase.store_id == store_id, Purchase.order_no == order_no)
                             .execution_options(populate_existing=True))


def _replay(row: Purchase | Refund, digest: str, what: str) -> dict:
    if row.request_hash != digest:
        raise Conflict(f"This {what} was already used with a different request.", code=f"{what}_conflict")
    return row.response


def record(store_id: int, operator_id: int | None, body: dict) -> dict:
    """Record one purchase: consume the member code, spend points (FIFO), earn points (pending or not),
    add growth, store the purchase, tell the other domains; all in one commit."""
    digest = request_hash(body)
    order_no = body["order_no"]
    try:
        member = pricing.resolve_member(body)
    except ApiError:  # a retry whose code was burnt by the first attempt, or has expired since: same answer
        existing = _find_purchase(store_id, order_no)
        if existing is None:
            raise
        return _replay(existing, digest, "order_no")
    try:
        account = ledger.lock_account(member.id)  # held: the ledger calls below update this same object
        existing = _find_purchase(store_id, order_no)  # a twin that held the lock before us has committed
        if existing is not None:
            result = _replay(existing, digest, "order_no")
            db.session.rollback()
            return result
        if body.get("member_code") is not None:
            member_code.consume(body["member_code"], purpose=f"purchase:{store_id}:{order_no}")
        quote = pricing.build(member, body["items"], body.get("coupon_ids") or [], body.get("points_to_use"),
                              for_purchase=True)
        if body["paid"] != quote["payable"]:
            raise ValidationError("paid", f"The prices make {quote['payable']} fen payable, not {body['paid']}.",
                                  code="paid_mismatch")
        answer = _write_purchase(store_id, operator_id, member, account, order_no, digest, quote)
        db.session.commit()
        return answer
    except IntegrityError:
        db.session.rollback()
        existing = _find_purchase(store_id, order_no)
        if existing is None:
            raise
        return _replay(existing, digest, "order_no")
    except Exception:
        db.session.rollback()
        raise


def _write_purchase(store_id: int, operator_id: int | None, member: Member, account: PointsAccount, order_no: str,
                    digest: str, quote: dict) -> dict:
    now = clock.now()
    growth = quote["payable"] // 100
    purchase = Purchase(
        store_id=store_id, order_no=order_no, member_id=member.id, operator_id=operator_id, request_hash=digest,
        subtotal=quote["subtotal"], coupon_discount=quote["coupon_discount"], points_used=quote["points_used"],
        points_value=quote["points_value"], paid=quote["payable"], points_earned=quote["points_to_earn"],
        growth_added=growth, created_at=now,
    )
    db.session.add(purchase)
    db.session.flush()  # the unique (store, order_no) decides a race here, before any points move
    db.session.execute(insert(PurchaseLine), [{"purchase_id": purchase.id, **{k: line[k] for k in (
        "sku", "name", "category", "qty", "list_price", "unit_price", "total")}} for line in quote["lines"]])
    if quote["coupon_ids"]:
        coupon_lines = [{k: line[k] for k in ("sku", "category", "qty", "unit_price", "total")}
                        for line in quote["lines"]]
        discount = coupons_service.use_for_purchase(member.id, quote["coupon_ids"], coupon_lines, purchase.id)
        if discount != quote["coupon_discount"]:
            raise Conflict("The coupons changed while the purchase was recorded; quote again.", code="coupon_changed")
    key = f"pos-purchase:{purchase.id}"
    spend = earn = None
    if quote["points_used"]:
        spend = ledger.debit(member.id, quote["points_used"], kind="spend", key=key, cause_type="purchase",
                             cause_id=purchase.id, note=f"order {order_no}")
    if quote["points_to_earn"]:
        earn = ledger.credit(member.id, quote["points_to_earn"], kind="earn", key=key, cause_type="purchase",
                             cause_id=purchase.id, available_at=quote["points_pending_until"],
                             expires_at=quote["earn_expires_at"], note=f"order {order_no}")
        earn_rules.record_uses(purchase.id, member.id, quote["business_date"], quote["rule_points"])
    tier_code = member.tier.code if member.tier else None
    change = members_service.add_growth(member.id, growth, reason="purchase", ref=key) if growth else None
    earlier = db.session.scalar(select(Purchase.id).where(
        Purchase.member_id == member.id, Purchase.id != purchase.id).limit(1))
    events.purchase_recorded.send(None, member_id=member.id, purchase_id=purchase.id, first=earlier is None)
    answer = {
        "order_no": order_no,
        "purchase_id": purchase.id,
        "subtotal": purchase.subtotal,
        "coupon_discount": purchase.coupon_discount,
        "paid": purchase.paid,
        "points_earned": purchase.points_earned,
        "points_pending": bool(purchase.points_earned and quote["points_pending_until"] is not None),
        "points_spent": purchase.points_used,
        "points_value": purchase.points_value,
        "growth_added": purchase.growth_added,
        "tier": {"code": change["to"] if change else tier_code},
        "tier_change": change,
        "balance": account.available - account.debt,
        "applied_rules": quote["applied_rules"],
    }
    # one UPDATE of the purchase at commit
    purchase.spend_entry_id = spend.id if spend is not None else None
    purchase.earn_entry_id = earn.id if earn is not None else None
    purchase.response = answer
    return answer


# --- refunds ------------------------------------------------------------------------------------------

def _find_refund(store_id: int, refund_no: str) -> Refund | None:
    return db.session.scalar(select(Refund).where(Refund.store_id == store_id, Refund.refund_no == refund_no)
                             .execution_options(populate_existing=True))


def refund(store_id: int, order_no: str, body: dict) -> dict:
    """Refund `amount` fen of a purchase of this store: take back earned points and growth and give back
    used points (keeping their expiry) in proportion to the amount; a full refund returns coupons.

    Proportions are cumulative (what all refunds so far should have moved, minus what they did), so
    several partial refunds end exactly where one full refund would."""
    digest = request_hash({"order_no": order_no, **body})
    existing = _find_refund(store_id, body["refund_no"])
    if existing is not None:
        return _replay(existing, digest, "refund_no")
    purchase = _find_purchase(store_id, order_no)
    if purchase is None:
        raise NotFound(f"No purchase {order_no} in this store.", code="purchase_not_found")
    try:
        ledger.lock_account(purchase.member_id)
        existing = _find_refund(store_id, body["refund_no"])
        if existing is not None:
            result = _replay(existing, digest, "refund_no")
            db.session.rollback()
            return result
        purchase = _find_purchase(store_id, order_no)  # fresh refunded_amount, read under the lock
        answer = _write_refund(store_id, purchase, body, digest)
        db.session.commit()
        return answer
    except IntegrityError:
        db.session.rollback()
        existing = _find_refund(store_id, body["refund_no"])
        if existing is None:
            raise
        return _replay(existing, digest, "refund_no")
    except Exception:
        db.session.rollback()
        raise


def _write_refund(store_id: int, purchase: Purchase, body: dict, digest: str) -> dict:
    amount = body["amount"]
    left = purchase.paid - purchase.refunded_amount
    if amount > left:
        raise ValidationError("amount", f"At most {left} fen of this purchase can still be refunded.",
                              code="refund_exceeds_paid")
    done = db.session.execute(select(
        func.coalesce(func.sum(Refund.points_reversed), 0), func.coalesce(func.sum(Refund.points_returned), 0),
        func.coalesce(func.sum(Refund.growth_removed), 0)).where(Refund.purchase_id == purchase.id)).one()
    row = Refund(store_id=store_id, purchase_id=purchase.id, refund_no=body["refund_no"], amount=amount,
                 request_hash=digest, created_at=clock.now())
    db.session.add(row)
    db.session.flush()
    total = purchase.refunded_amount + amount
    row.points_reversed = purchase.points_earned * total // purchase.paid - int(done[0])
    row.points_returned = purchase.points_used * total // purchase.paid - int(done[1])
    row.growth_removed = purchase.growth_added * total // purchase.paid - int(done[2])
    key = f"pos-refund:{row.id}"
    if row.points_reversed:
        ledger.reverse(purchase.member_id, row.points_reversed, key=key, cause_type="refund", cause_id=row.id,
                       source_entry_id=purchase.earn_entry_id, note=f"refund {row.refund_no}")
    if row.points_returned:
        ledger.restore(purchase.spend_entry_id, row.points_returned, key=key, cause_type="refund",
                       cause_id=row.id, note=f"refund {row.refund_no}")
    if row.growth_removed:
        members_service.add_growth(purchase.member_id, -row.growth_removed, reason="refund", ref=key)
    purchase.refunded_amount = total
    full = total == purchase.paid
    if full:
        coupons_service.restore_for_refund(purchase.id)
    events.purchase_refunded.send(None, member_id=purchase.member_id, purchase_id=purchase.id, refund_id=row.id,
                                  full=full)
    db.session.flush()
    answer = {
        "refund_no": row.refund_no,
        "order_no": purchase.order_no,
        "amount": amount,
        "points_reversed": row.points_reversed,
        "points_returned": row.points_returned,
        "growth_removed": row.growth_removed,
        "full": full,
        "balance": ledger.summary(purchase.member_id)["balance"],
    }
    row.response = answer
    return answer
