"""Purchases and refunds at the till: one transaction each, idempotent by order_no / refund_no.

The unique constraints (store, order_no) and (store, refund_no) decide a race; the member's account lock
(taken before anything is read) serializes every purchase and refund of one member, so a retried request
that waited on the lock finds the first one's row and returns its stored answer. The same key with a
different body (compared by a hash of the canonical request) is a 409.
"""
from __future__ import annotations

import hashlib
import json
import math
import secrets
from fractions import Fraction

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app import clock, events, pipeline
from app.audit import service as audit
from app.errors import ApiError, Conflict, Forbidden, NotFound, ValidationError
from app.extensions import db
from coupons import checkout
from members import member_code
from members.models import Member
from points import ledger as ledger
from points.models import PointsAccount
from tiers import growth as tier_growth
from tiers import ladder
from till import earn_rules, pricing
from till.models import Purchase, PurchaseLine, Refund


def request_hash(body: dict) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _find_purchase(store_id: int, order_no: str) -> Purchase | None:
    return db.session.scalar(select(Purchase).where(Purchase.store_id == store_id, Purchase.order_no == order_no)
                             .execution_options(populate_existing=True))


_purchases = Purchase.__table__
# The till's own statements, built once: building a statement costs more CPU than PostgreSQL spends on it.
_STORED_ANSWER = select(_purchases.c.request_hash, _purchases.c.response).where(
    _purchases.c.store_id == bindparam("store_id"), _purchases.c.order_no == bindparam("order_no"))
_INSERT_PURCHASE = insert(_purchases).returning(_purchases.c.id)
_INSERT_LINES = pipeline.queued(insert(PurchaseLine.__table__))  # nothing reads these answers
_FINISH_PURCHASE = pipeline.queued(update(_purchases).where(_purchases.c.id == bindparam("purchase_id")).values(
    spend_entry_id=bindparam("spend_id"), earn_entry_id=bindparam("earn_id"), response=bindparam("answer")))


def _stored_answer(store_id: int, order_no: str):
    """(request_hash, response) of this store's order, if recorded: all a replay needs."""
    return db.session.execute(_STORED_ANSWER, {"store_id": store_id, "order_no": order_no}).one_or_none()


def _replay(row: Purchase | Refund, digest: str, what: str) -> dict:
    if row.request_hash != digest:
        raise Conflict(f"This {what} was already used with a different request.", code=f"{what}_conflict")
    return row.response


def check_presence(body: dict, operator_role: str | None) -> None:
    """Points and coupons are the member's to spend: a purchase that uses them names the member by their
    code (the shopper is at the till and showed it), not by an id any clerk of any store can type. A
    manager may go without it by giving `override_reason`, which the audit log keeps; a quote only prices,
    so it may still name the member by id."""
    override = body.get("override_reason")
    if override is not None and operator_role != "manager":
        raise Forbidden("Only a manager may record a purchase without the member's code (override_reason).",
                        code="override_not_allowed")
    if body.get("member_code") is None and override is None:
        for field in ("points_to_use", "coupon_ids"):
            if body.get(field):
                raise Forbidden("Spending points or using coupons needs the member's code; scan it (or a manager "
                                "gives override_reason).", code="member_code_required")


def record(store_id: int, operator_id: int | None, body: dict, operator_role: str | None = None) -> dict:
    """Record one purchase: spend points (FIFO), earn points (pending or not), add growth, consume the
    member code, store the purchase, tell the other domains; all in one commit."""
    check_presence(body, operator_role)
    digest = request_hash(body)
    order_no = body["order_no"]
    account = None
    try:
        if body.get("member_code") is None:  # held: the ledger calls below update this same account object
            member, account = ledger.lock_member_account(body["member_id"])
        else:
            member = pricing.resolve_member(body)
    except ApiError:  # a retry whose code was burnt by the first attempt, or has expired since: same answer
        existing = _stored_answer(store_id, order_no)
        if existing is None:
            raise
        return _replay(existing, digest, "order_no")
    try:
        if account is None:
            account = ledger.lock_account(member.id)
        existing = _stored_answer(store_id, order_no)  # a twin that held the lock before us has committed
        if existing is not None:
            result = _replay(existing, digest, "order_no")
            db.session.rollback()
            return result
        quote = pricing.build(member, body["items"], body.get("coupon_ids") or [], body.get("points_to_use"),
                              for_purchase=True)
        if body["paid"] != quote["payable"]:
            raise ValidationError("paid", f"The prices make {quote['payable']} fen payable, not {body['paid']}.",
                                  code="paid_mismatch")
        with pipeline.pipelined():  # the writes nobody reads an answer of travel with the next that is read
            answer = _write_purchase(store_id, operator_id, member, account, order_no, digest, quote,
                                     body.get("member_code"))
            if body.get("override_reason") is not None:
                audit.record("purchase.override", "purchase", answer["purchase_id"], None, {
                    "order_no": order_no, "member_id": member.id, "points_spent": answer["points_spent"],
                    "coupon_ids": quote["coupon_ids"], "reason": body["override_reason"]})
        db.session.commit()
        return answer
    except IntegrityError:
        db.session.rollback()
        existing = _stored_answer(store_id, order_no)
        if existing is None:
            raise
        return _replay(existing, digest, "order_no")
    except Exception:
        db.session.rollback()
        raise


def _write_purchase(store_id: int, operator_id: int | None, member: Member, account: PointsAccount, order_no: str,
                    digest: str, quote: dict, code: str | None) -> dict:
    """The purchase's rows through Core statements built once (no unit-of-work flush: a good part of a
    purchase's CPU went there): the INSERT's unique (store, order_no) decides a race before any points move,
    and the answer, stored for replays, goes out with the entry ids in one last UPDATE.

    The member code is consumed after every step that can refuse the purchase (coupons, points) and after
    the first write: a refusal burns nothing, and on SQLite the consume's savepoint nests in a transaction
    that has begun (one opened before the first write commits on release, app/extensions.py)."""
    now = clock.now()
    growth = ladder.purchase_growth(quote["payable"])
    purchase_id = db.session.execute(_INSERT_PURCHASE, dict(
        store_id=store_id, order_no=order_no, member_id=member.id, operator_id=operator_id, request_hash=digest,
        subtotal=quote["subtotal"], coupon_discount=quote["coupon_discount"], points_used=quote["points_used"],
        points_value=quote["points_value"], paid=quote["payable"], points_earned=quote["points_to_earn"],
        growth_added=growth, earn_entry_id=None, spend_entry_id=None, refunded_amount=0, refunded_full=False,
        response=None, created_at=now,
    )).scalar_one()
    db.session.execute(_INSERT_LINES, [{"purchase_id": purchase_id, **{k: line[k] for k in (
        "sku", "name", "category", "qty", "list_price", "unit_price", "total")}, "refunded_qty": 0}
        for line in quote["lines"]])
    if quote["coupon_ids"]:
        coupon_lines = [{k: line[k] for k in ("sku", "category", "qty", "unit_price", "total")}
                        for line in quote["lines"]]
        discount = checkout.use_for_purchase(member.id, quote["coupon_ids"], coupon_lines, purchase_id)
        if discount != quote["coupon_discount"]:
            raise Conflict("The coupons changed while the purchase was recorded; quote again.", code="coupon_changed")
    key = f"pos-purchase:{purchase_id}"
    spend = earn = None
    if quote["points_used"]:
        spend = ledger.debit(member.id, quote["points_used"], kind="spend", key=key, cause_type="purchase",
                             cause_id=purchase_id, note=f"order {order_no}", new_key=True)
    if quote["points_to_earn"]:
        earn = ledger.credit(member.id, quote["points_to_earn"], kind="earn", key=key, cause_type="purchase",
                             cause_id=purchase_id, available_at=quote["points_pending_until"],
                             expires_at=quote["earn_expires_at"], note=f"order {order_no}", new_key=True)
        earn_rules.record_uses(purchase_id, member.id, quote["business_date"], quote["rule_points"])
    if code is not None:
        member_code.consume(code, purpose=f"purchase:{store_id}:{order_no}")
    tier = ladder.tier_of(member)
    tier_code = tier.code if tier else None
    grown = tier_growth.add_purchase(member.id, growth, ref=key)
    added = events.answer_fields(events.purchase_recorded.send(
        None, member_id=member.id, purchase_id=purchase_id, order_no=order_no, points_earned=quote["points_to_earn"],
        earn_entry_id=earn.id if earn else None, first=grown.purchase_count == 1, store_id=store_id,
        paid=quote["payable"], points_spent=quote["points_used"]))
    answer = {
        "order_no": order_no,
        "purchase_id": purchase_id,
        "subtotal": quote["subtotal"],
        "coupon_discount": quote["coupon_discount"],
        "paid": quote["payable"],
        "points_earned": quote["points_to_earn"],
        "points_pending": bool(quote["points_to_earn"] and quote["points_pending_until"] is not None),
        "points_spent": quote["points_used"],
        "points_value": quote["points_value"],
        "growth_added": growth,
        "tier": {"code": grown.change["to"] if grown.change else tier_code},
        "tier_change": grown.change,
        "balance": account.available - account.debt,
        "applied_rules": quote["applied_rules"],
        **added,  # the attributed promoter, when distribution names one
    }
    db.session.execute(_FINISH_PURCHASE, {"purchase_id": purchase_id, "spend_id": spend.id if spend else None,
                                          "earn_id": earn.id if earn else None, "answer": answer})
    return answer


# --- refunds ------------------------------------------------------------------------------------------

def _was_first(purchase: Purchase) -> bool:
    """Whether this was the member's first purchase (what first-purchase and invite rewards were paid for)."""
    first_id = db.session.scalar(select(func.min(Purchase.id)).where(Purchase.member_id == purchase.member_id))
    return first_id == purchase.id


def _find_refund(store_id: int, refund_no: str) -> Refund | None:
    return db.session.scalar(select(Refund).where(Refund.store_id == store_id, Refund.refund_no == refund_no)
                             .execution_options(populate_existing=True))


def refund(store_id: int, order_no: str, body: dict) -> dict:
    """Refund part or all of a purchase of this store, said one of three ways (README "Refunds at the
    till"): `amount` fen of money, `lines` of goods brought back, or `full`. Each gives a share of the
    order; earned points, growth and the earn rules' day caps are taken back, and used points given back
    (as lots keeping their expiry), in that share. When the share reaches the whole order, coupons come back.

    Shares are cumulative (what all refunds so far should have moved, minus what they did), so several
    partial refunds end exactly where one full refund would; an order paid with points only (nothing paid)
    is refunded by lines or in full, since money cannot measure its share."""
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


def _refund_share(purchase: Purchase, lines: list[PurchaseLine], body: dict) -> tuple[Fraction, dict]:
    """The share of the order given back once this refund is done (cumulative, 0 < share <= 1) and the
    goods it takes back {line: qty}. An order is refunded by money or by goods, not both: the two measure
    different shares (a coupon or member price makes a line's money differ from its share of the goods),
    so mixing them is a 409; `full` ends either."""
    if purchase.refunded_full:
        field = "full" if body.get("full") else "lines" if "lines" in body else "amount"
        raise ValidationError(field, "This purchase has already been refunded in full.", code="refund_exceeds_paid")
    by_goods = any(line.refunded_qty for line in lines)
    if body.get("full"):
        return Fraction(1), {line: line.qty - line.refunded_qty for line in lines if line.qty > line.refunded_qty}
    if "amount" in body:
        if purchase.paid == 0:
            raise ValidationError("amount", "This order was paid with points only: refund it by lines or with "
                                  "full: true.", code="nothing_paid")
        if by_goods:
            raise Conflict("This order is being refunded by lines: refund the rest by lines or with full: true.",
                           code="refund_mode_conflict")
        left = purchase.paid - purchase.refunded_amount
        if body["amount"] > left:
            raise ValidationError("amount", f"At most {left} fen of this purchase can still be refunded.",
                                  code="refund_exceeds_paid")
        return Fraction(purchase.refunded_amount + body["amount"], purchase.paid), {}
    if purchase.refunded_amount and not by_goods:
        raise Conflict("This order is being refunded by amount: refund the rest by amount or with full: true.",
                       code="refund_mode_conflict")
    by_sku = {line.sku: line for line in lines}
    back: dict[PurchaseLine, int] = {}
    for index, item in enumerate(body["lines"]):
        line = by_sku.get(item["sku"])
        if line is None:
            raise ValidationError(f"lines.{index}.sku", f"{item['sku']} is not in this order.",
                                  code="sku_not_in_order")
        if line in back:
            raise ValidationError(f"lines.{index}.sku", "This SKU is already in the refund; send one line per SKU.",
                                  code="duplicate_sku")
        left = line.qty - line.refunded_qty
        if item["qty"] > left:
            raise ValidationError(f"lines.{index}.qty", f"At most {left} of {line.sku} can still be refunded.",
                                  code="refund_exceeds_bought")
        back[line] = item["qty"]
    # a line weighs what it cost after member prices; an order of free goods weighs them by count
    weight = (lambda line: line.unit_price) if purchase.subtotal else (lambda line: 1)
    whole = sum(weight(line) * line.qty for line in lines)
    returned = sum(weight(line) * (line.refunded_qty + back.get(line, 0)) for line in lines)
    return Fraction(returned, whole), back


def _write_refund(store_id: int, purchase: Purchase, body: dict, digest: str) -> dict:
    lines = list(db.session.scalars(select(PurchaseLine).where(PurchaseLine.purchase_id == purchase.id)
                                    .order_by(PurchaseLine.id)))
    share, back = _refund_share(purchase, lines, body)
    done = db.session.execute(select(
        func.coalesce(func.sum(Refund.points_reversed), 0), func.coalesce(func.sum(Refund.points_returned), 0),
        func.coalesce(func.sum(Refund.growth_removed), 0)).where(Refund.purchase_id == purchase.id)).one()
    money = math.floor(purchase.paid * share)
    row = Refund(store_id=store_id, purchase_id=purchase.id, refund_no=body["refund_no"],
                 amount=money - purchase.refunded_amount, request_hash=digest, created_at=clock.now())
    db.session.add(row)
    db.session.flush()
    row.points_reversed = math.floor(purchase.points_earned * share) - int(done[0])
    row.points_returned = math.floor(purchase.points_used * share) - int(done[1])
    row.growth_removed = math.floor(purchase.growth_added * share) - int(done[2])
    key = f"pos-refund:{row.id}"
    if row.points_reversed:
        ledger.reverse(purchase.member_id, row.points_reversed, key=key, cause_type="refund", cause_id=row.id,
                       source_entry_id=purchase.earn_entry_id, note=f"refund {row.refund_no}")
    if row.points_returned:
        ledger.restore(purchase.spend_entry_id, row.points_returned, key=key, cause_type="refund",
                       cause_id=row.id, note=f"refund {row.refund_no}")
    if row.growth_removed:
        tier_growth.add_growth(purchase.member_id, -row.growth_removed, reason="refund", ref=key)
    if purchase.points_earned:
        earn_rules.release_uses(purchase.id, share)
    for line, qty in back.items():
        line.refunded_qty += qty
    purchase.refunded_amount = money
    full = share == 1
    purchase.refunded_full = full
    if full:
        checkout.restore_for_refund(purchase.id)
    events.purchase_refunded.send(None, member_id=purchase.member_id, purchase_id=purchase.id, refund_id=row.id,
                                  full=full, first=full and _was_first(purchase), order_no=purchase.order_no,
                                  amount=row.amount)
    db.session.flush()
    answer = {
        "refund_no": row.refund_no,
        "order_no": purchase.order_no,
        "amount": row.amount,
        "lines": [{"sku": line.sku, "qty": qty} for line, qty in back.items()],
        "points_reversed": row.points_reversed,
        "points_returned": row.points_returned,
        "growth_removed": row.growth_removed,
        "full": full,
        "balance": ledger.summary(purchase.member_id)["balance"],
    }
    row.response = answer
    return answer


# --- what the till shows -------------------------------------------------------------------------------

def new_order_no() -> str:
    """An order number for a till that has none of its own (the console): the business day and 10 random
    hex digits. The console fixes it when the basket page renders, so a double-submitted basket is a replay."""
    return f"C{clock.business_today():%Y%m%d}-{secrets.token_hex(5).upper()}"


def new_refund_no() -> str:
    """A refund number fixed when the refund form renders (a second submit is a replay)."""
    return f"R{clock.business_today():%Y%m%d}-{secrets.token_hex(5).upper()}"


def order_view(store_id: int, order_no: str) -> dict:
    """A purchase of this store with its lines and what is left to refund (another store's order is 404,
    as if it did not exist: a clerk acts in their own store only)."""
    purchase = _find_purchase(store_id, order_no)
    if purchase is None:
        raise NotFound(f"No purchase {order_no} in this store.", code="purchase_not_found")
    lines = db.session.scalars(select(PurchaseLine).where(PurchaseLine.purchase_id == purchase.id)
                               .order_by(PurchaseLine.id))
    return {
        "order_no": purchase.order_no, "member_id": purchase.member_id, "created_at": purchase.created_at,
        "subtotal": purchase.subtotal, "coupon_discount": purchase.coupon_discount,
        "points_used": purchase.points_used, "points_value": purchase.points_value, "paid": purchase.paid,
        "points_earned": purchase.points_earned, "refunded_amount": purchase.refunded_amount,
        "refundable_amount": purchase.paid - purchase.refunded_amount, "refunded_full": purchase.refunded_full,
        "lines": [{"sku": line.sku, "name": line.name, "qty": line.qty, "unit_price": line.unit_price,
                   "total": line.total, "refunded_qty": line.refunded_qty} for line in lines],
        "receipt": purchase.response,
    }
