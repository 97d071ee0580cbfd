"""Coupons at the till: the best coupons for a cart, their use by a purchase and return by a full refund,
verification (核销) by code and revocation. Quote and use run inside the till's transaction.

How a cart's coupon discount is computed (documented for the till and for marketing):
- A coupon applies to the lines in its scope (all, categories or SKUs, include or exclude); its threshold is
  compared with the in-scope amount after member prices. Threshold 0 means "no threshold".
- amount_off: min(amount_off, in-scope amount). percent_off: `percent` is the share paid (88 = 88折), the
  discount is in-scope * (100 - percent) // 100 (rounded down), capped by max_discount. gift: the unit price of
  one unit of the gift SKU, when the SKU is in the cart (one coupon per unit).
- Discounts are computed on the pre-coupon amounts and added; the total never exceeds the cart's amount.
- Stacking: a non-stackable coupon stands alone; stackable coupons combine, at most one per template.
"""
from __future__ import annotations

from sqlalchemy import select, update

from app import clock, events
from app.audit import service as audit
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from coupons.models import Coupon
from coupons.templates import coupon_out, scope_out

# --- the till -------------------------------------------------------------------------------------------

def _in_scope(scope: dict, line: dict) -> bool:
    scope = scope_out(scope)
    if scope["kind"] == "all":
        return True
    values = set(scope["values"])
    hit = (line.get("category") in values) if scope["kind"] == "categories" else (line["sku"] in values)
    return hit != scope["exclude"]


def coupon_discount(terms: dict, lines: list[dict]) -> tuple[int, str | None]:
    """(discount in fen, None) when the coupon applies to the cart, else (0, the error code saying why)."""
    scoped = sum(line["total"] for line in lines if _in_scope(terms.get("scope"), line))
    threshold = terms.get("threshold") or 0
    if terms["kind"] == "gift":
        units = [line["unit_price"] for line in lines if line["sku"] == terms["gift_sku"] and line["qty"] > 0]
        if not units:
            return 0, "coupon_not_applicable"
        if scoped < threshold:
            return 0, "coupon_threshold_not_met"
        return max(units), None
    if scoped <= 0:
        return 0, "coupon_not_applicable"
    if scoped < threshold:
        return 0, "coupon_threshold_not_met"
    if terms["kind"] == "amount_off":
        return min(terms["amount_off"], scoped), None
    off = scoped * (100 - terms["percent"]) // 100
    if terms.get("max_discount"):
        off = min(off, terms["max_discount"])
    return off, None


def _gift_units(lines: list[dict]) -> dict[str, int]:
    units: dict[str, int] = {}
    for line in lines:
        units[line["sku"]] = units.get(line["sku"], 0) + line["qty"]
    return units


def _answer(chosen: list[tuple[Coupon, int]], subtotal: int) -> dict:
    """Per-coupon discounts that add up to the (capped) total."""
    left = subtotal
    coupons = []
    for coupon, discount in chosen:
        take = min(discount, left)
        left -= take
        coupons.append({"id": coupon.id, "code": coupon.code, "title": coupon.title, "discount": take})
    return {"coupon_ids": [c["id"] for c in coupons], "discount": sum(c["discount"] for c in coupons),
            "coupons": coupons}


def _best_stack(candidates: list[tuple[Coupon, int]], lines: list[dict], subtotal: int) -> list[tuple[Coupon, int]]:
    """Best set of stackable coupons: one per template (the best of each), gift coupons no more than the units
    in the cart, then coupons that add nothing under the cart-total cap are left for another day."""
    by_template: dict[int, tuple[Coupon, int]] = {}
    for coupon, discount in candidates:
        best = by_template.get(coupon.template_id)
        if best is None or (discount, -coupon.valid_until.timestamp()) > (best[1], -best[0].valid_until.timestamp()):
            by_template[coupon.template_id] = (coupon, discount)
    chosen = sorted(by_template.values(), key=lambda cd: (-cd[1], cd[0].valid_until, cd[0].id))
    units = _gift_units(lines)
    kept = []
    for coupon, discount in chosen:
        if coupon.kind == "gift":
            sku = coupon.terms["gift_sku"]
            if units.get(sku, 0) <= 0:
                continue
            units[sku] -= 1
        kept.append((coupon, discount))
    total = sum(d for _, d in kept)
    for item in sorted(kept, key=lambda cd: cd[1]):  # drop the smallest ones the cap makes useless
        if total - item[1] >= subtotal:
            kept.remove(item)
            total -= item[1]
    return kept


def _best_combination(usable: list[Coupon], lines: list[dict], subtotal: int) -> list[tuple[Coupon, int]]:
    """Not greedy: every non-stackable coupon alone, against the best stack of stackable ones; the largest
    capped discount wins, then fewer coupons, then the soonest-expiring."""
    applicable = []
    for coupon in usable:
        discount, _ = coupon_discount(coupon.terms, lines)
        if discount > 0:
            applicable.append((coupon, discount))
    options = [[cd] for cd in applicable if not cd[0].terms.get("stackable")]
    stack = _best_stack([cd for cd in applicable if cd[0].terms.get("stackable")], lines, subtotal)
    if stack:
        options.append(stack)
    if not options:
        return []

    def rank(option):
        return (-min(sum(d for _, d in option), subtotal), len(option), min(c.valid_until for c, _ in option))

    return min(options, key=rank)


def _check_lines(lines: list[dict]) -> int:
    for index, line in enumerate(lines):
        for name in ("sku", "qty", "unit_price", "total"):
            if name not in line:
                raise ValidationError(f"lines.{index}.{name}", "Missing.")
        if line["qty"] < 0 or line["unit_price"] < 0 or line["total"] < 0:
            raise ValidationError(f"lines.{index}", "Quantities and amounts must not be negative.")
    return sum(line["total"] for line in lines)


def _check_given(member_id: int, lines: list[dict], coupon_ids: list[int], subtotal: int) -> list[tuple[Coupon, int]]:
    if len(set(coupon_ids)) != len(coupon_ids):
        raise ValidationError("coupon_ids", "A coupon is named twice.", code="coupon_duplicated")
    found = {c.id: c for c in db.session.scalars(select(Coupon).where(Coupon.id.in_(coupon_ids)))}
    now = clock.now()
    chosen = []
    for coupon_id in coupon_ids:
        coupon = found.get(coupon_id)
        if coupon is None or coupon.member_id != member_id:  # another member's coupon looks like no coupon
            raise NotFound(f"Coupon {coupon_id} does not exist.", code="coupon_not_found")
        if coupon.state == "used":
            raise Conflict(f"Coupon {coupon_id} has been used.", code="coupon_already_used")
        if coupon.state == "revoked":
            raise Conflict(f"Coupon {coupon_id} has been revoked.", code="coupon_revoked")
        if coupon.state == "expired" or clock.as_utc(coupon.valid_until) <= now:
            raise Conflict(f"Coupon {coupon_id} has expired.", code="coupon_expired")
        if clock.as_utc(coupon.valid_from) > now:
            raise ValidationError("coupon_ids", f"Coupon {coupon_id} is not valid yet.", code="coupon_not_yet_valid")
        discount, why = coupon_discount(coupon.terms, lines)
        if why == "coupon_threshold_not_met":
            raise ValidationError("coupon_ids", f"Coupon {coupon_id} needs {coupon.terms['threshold']} fen of "
                                  "eligible items.", code=why)
        if why is not None or discount <= 0:
            raise ValidationError("coupon_ids", f"Coupon {coupon_id} does not apply to this cart.",
                                  code="coupon_not_applicable")
        chosen.append((coupon, discount))
    if len(chosen) > 1:
        lone = [c.id for c, _ in chosen if not c.terms.get("stackable")]
        if lone:
            raise Conflict(f"Coupon {lone[0]} cannot be combined with other coupons.", code="coupon_not_stackable")
        templates = [c.template_id for c, _ in chosen]
        if len(set(templates)) != len(templates):
            raise Conflict("Two coupons of the same kind cannot be combined.", code="coupon_not_stackable")
    units = _gift_units(lines)
    for coupon, _ in chosen:
        if coupon.kind == "gift":
            units[coupon.terms["gift_sku"]] -= 1
            if units[coupon.terms["gift_sku"]] < 0:
                raise ValidationError("coupon_ids", f"Coupon {coupon.id}: not enough gift items in the cart.",
                                      code="coupon_not_applicable")
    return chosen


def quote_coupons(member_id: int, lines: list[dict], coupon_ids: list[int] | None) -> dict:
    """Best (coupon_ids None) or given coupons for a cart whose `lines` are
    [{sku, category, qty, unit_price, total}] after member prices.
    -> {"coupon_ids": [...], "discount": fen, "coupons": [{id, code, title, discount}]}
    Given coupons are checked one by one: 404 coupon_not_found (unknown or another member's), 409
    coupon_already_used / coupon_expired / coupon_revoked / coupon_not_stackable, 422 coupon_not_yet_valid /
    coupon_not_applicable / coupon_threshold_not_met / coupon_duplicated. Writes nothing."""
    subtotal = _check_lines(lines)
    if coupon_ids is None:
        now = clock.now()
        usable = list(db.session.scalars(select(Coupon).where(
            Coupon.member_id == member_id, Coupon.state == "available", Coupon.valid_from <= now,
            Coupon.valid_until > now)))
        return _answer(_best_combination(usable, lines, subtotal), subtotal)
    if not coupon_ids:
        return {"coupon_ids": [], "discount": 0, "coupons": []}
    return _answer(_check_given(member_id, lines, coupon_ids, subtotal), subtotal)


def use_for_purchase(member_id: int, coupon_ids: list[int], lines: list[dict], purchase_id: int) -> int:
    """Mark the coupons used by a purchase inside the caller's transaction. Each is a conditional
    UPDATE ... WHERE state='available', so a coupon used by two purchases at once: one wins, the other gets
    409 coupon_already_used (and the caller's transaction rolls back). Returns the discount in fen."""
    if not coupon_ids:
        return 0
    answer = quote_coupons(member_id, lines, coupon_ids)
    now = clock.now()
    for coupon_id in answer["coupon_ids"]:
        result = db.session.execute(
            update(Coupon)
            .where(Coupon.id == coupon_id, Coupon.member_id == member_id, Coupon.state == "available",
                   Coupon.valid_until > now)
            .values(state="used", used_at=now, purchase_id=purchase_id)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise Conflict(f"Coupon {coupon_id} has just been used.", code="coupon_already_used")
    events.coupons_used.send(None, member_id=member_id, coupon_ids=list(answer["coupon_ids"]), purchase_id=purchase_id,
                             store_id=None)
    return answer["discount"]


def restore_for_refund(purchase_id: int) -> int:
    """A FULL refund gives back the purchase's coupons that have not expired yet; returns how many.
    Call it only for a full refund: a partial refund keeps the coupons used (the discount stays with the
    items the shopper kept, and a coupon cannot be split). Coupons past their end stay used. Re-runnable:
    a second call finds nothing to restore."""
    now = clock.now()
    result = db.session.execute(
        update(Coupon)
        .where(Coupon.purchase_id == purchase_id, Coupon.state == "used", Coupon.valid_until > now)
        .values(state="available", used_at=None, purchase_id=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def verify(coupon_code: str, store_id: int, operator_id: int | None) -> Coupon:
    """Standalone 核销 of a gift/exchange coupon at a till: a conditional UPDATE, so of many concurrent
    verifications of one code exactly one succeeds."""
    coupon = db.session.scalar(select(Coupon).where(Coupon.code == coupon_code.strip()))
    if coupon is None:
        raise NotFound("No coupon has this code.", code="coupon_not_found")
    if coupon.kind != "gift":
        raise ValidationError("coupon_code", "Only gift/exchange coupons are verified alone; discount coupons "
                              "are used in a purchase.", code="coupon_not_verifiable")
    now = clock.now()
    if clock.as_utc(coupon.valid_from) > now:
        raise ValidationError("coupon_code", "This coupon is not valid yet.", code="coupon_not_yet_valid")
    result = db.session.execute(
        update(Coupon)
        .where(Coupon.id == coupon.id, Coupon.state == "available", Coupon.valid_until > now)
        .values(state="used", used_at=now, verified_store_id=store_id, verified_by_id=operator_id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        coupon = db.session.get(Coupon, coupon.id)
        if coupon.state == "revoked":
            raise Conflict("This coupon has been revoked.", code="coupon_revoked")
        if coupon.state == "expired" or (coupon.state == "available" and clock.as_utc(coupon.valid_until) <= now):
            raise Conflict("This coupon has expired.", code="coupon_expired")
        raise Conflict("This coupon has already been used.", code="coupon_already_used")
    events.coupons_used.send(None, member_id=coupon.member_id, coupon_ids=[coupon.id], purchase_id=None,
                             store_id=store_id)
    db.session.commit()
    db.session.refresh(coupon)
    return coupon


def revoke(coupon_id: int, reason: str) -> Coupon:
    """Marketing takes back an unused coupon (issued by mistake); audited."""
    coupon = db.session.get(Coupon, coupon_id)
    if coupon is None:
        raise NotFound(f"Coupon {coupon_id} does not exist.", code="coupon_not_found")
    before = coupon_out(coupon)
    result = db.session.execute(update(Coupon).where(Coupon.id == coupon_id, Coupon.state == "available")
                                .values(state="revoked").execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict(f"Coupon {coupon_id} is {coupon.state}; only an available coupon can be revoked.",
                       code="coupon_not_revocable")
    db.session.refresh(coupon)
    audit.record("coupon.revoke", "coupon", coupon_id, before, {**coupon_out(coupon), "reason": reason})
    db.session.commit()
    return coupon
