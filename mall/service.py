"""Points-mall rules: the catalogue, redeeming (points + stock in one transaction), pickup and cancel.

Lock order everywhere: the member's points account, then the redemption, then the item row. The account
lock serializes one member's redemptions (so the per-member limit count is exact); the stock is taken by
a conditional UPDATE as the last write, so the hot item row is held only until the commit.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app import clock, events
from app.audit import service as audit
from app.errors import Conflict, Forbidden, NotFound, ValidationError
from app.extensions import db
from app.operators import service as operators
from app.operators.models import Store
from app.pagination import keyset_page
from app.transactions import atomic
from coupons import issuing, templates
from mall.models import MAX_STOCK, CatalogItem, Redemption
from members import service as members_service
from points import ledger as points_service
from tiers import ladder

MAX_QUANTITY = 99


# --- catalogue (marketing) -----------------------------------------------------------------------------

def _snapshot(item: CatalogItem) -> dict:
    return {c.key: getattr(item, c.key) for c in CatalogItem.__table__.columns}


def _check(item: CatalogItem) -> None:
    if item.kind == "coupon":
        if not item.coupon_template_id:
            raise ValidationError("coupon_template_id", "A coupon item names the coupon template it issues.")
        if item.cash_price:
            raise ValidationError("cash_price", "A coupon item is issued at once; it cannot carry a cash part.")

        try:
            templates.get_template(item.coupon_template_id)
        except NotFound:
            raise ValidationError("coupon_template_id", f"Coupon template {item.coupon_template_id} does not exist.",
                                  code="unknown_coupon_template") from None
    elif item.coupon_template_id:
        raise ValidationError("coupon_template_id", "Only coupon items issue a coupon.")
    if item.starts_at and item.ends_at and item.starts_at >= item.ends_at:
        raise ValidationError("ends_at", "Must be after starts_at.")
    ladder.check_codes(item.tiers or [], "tiers")


def create_item(body: dict) -> CatalogItem:
    if db.session.scalar(select(CatalogItem.id).where(CatalogItem.code == body["code"])) is not None:
        raise Conflict(f"An item with code {body['code']} exists.", code="duplicate_code")
    item = CatalogItem(**body)
    try:
        with atomic():
            _check(item)
            db.session.add(item)
            db.session.flush()
            audit.record("catalog.create", "catalog_item", item.id, None, _snapshot(item))
    except IntegrityError:
        raise Conflict("An item with this code exists.", code="duplicate_code") from None
    return item


def update_item(item_id: int, body: dict) -> CatalogItem:
    """Row-locked, so a stock edit and a concurrent redemption apply one after the other."""
    with atomic():
        item = db.session.scalar(select(CatalogItem).where(CatalogItem.id == item_id).with_for_update()
                                 .execution_options(populate_existing=True))
        if item is None:
            raise NotFound("No such catalogue item.", code="item_not_found")
        before = _snapshot(item)
        for name, value in body.items():
            setattr(item, name, value)
        _check(item)
        db.session.flush()
        audit.record("catalog.update", "catalog_item", item.id, before, _snapshot(item))
    return item


def adjust_stock(item_id: int, delta: int) -> CatalogItem:
    """Restock (+) or write off (-) by a count, relative to the stock as it is at the commit: a form that
    showed 10 and sets 50 would erase the redemptions taken since it rendered, an adjustment of +40 keeps
    them. One conditional UPDATE (never below zero, 409 `out_of_stock` instead), audited."""
    if delta == 0:
        raise ValidationError("delta", "Must not be zero.")
    with atomic():
        before = db.session.scalar(select(CatalogItem.stock).where(CatalogItem.id == item_id))
        if before is None:
            raise NotFound("No such catalogue item.", code="item_not_found")
        changed = db.session.execute(
            update(CatalogItem).where(CatalogItem.id == item_id, CatalogItem.stock + delta >= 0,
                                      CatalogItem.stock + delta <= MAX_STOCK)
            .values(stock=CatalogItem.stock + delta).returning(CatalogItem.stock)).scalar()
        if changed is None and delta > 0:
            raise ValidationError("delta", f"The stock cannot exceed {MAX_STOCK}.", code="stock_too_large")
        if changed is None:
            raise Conflict("The stock cannot go below zero.", code="out_of_stock")
        audit.record("catalog.stock", "catalog_item", item_id, {"stock": changed - delta},
                     {"stock": changed, "delta": delta})
    return get_item(item_id)


def get_item(item_id: int) -> CatalogItem:
    item = db.session.get(CatalogItem, item_id)
    if item is None:
        raise NotFound("No such catalogue item.", code="item_not_found")
    return item


def list_items(limit: int, cursor: str | None) -> dict:
    return keyset_page(select(CatalogItem), CatalogItem.id, limit, cursor)


# --- what a member may redeem ----------------------------------------------------------------------------

def _period_start(period: str) -> datetime | None:
    """Where the per-member limit's current period began (business days; weeks start on Monday)."""
    today = clock.business_today()
    if period == "day":
        return clock.start_of_business_day(today)
    if period == "week":
        return clock.start_of_business_day(today - timedelta(days=today.weekday()))
    if period == "month":
        return clock.start_of_business_day(today.replace(day=1))
    return None


def _used(item: CatalogItem, member_id: int) -> int:
    stmt = select(func.coalesce(func.sum(Redemption.quantity), 0)).where(
        Redemption.item_id == item.id, Redemption.member_id == member_id, Redemption.state != "cancelled")
    start = _period_start(item.limit_period)
    if start is not None:
        stmt = stmt.where(Redemption.created_at >= start)
    return int(db.session.scalar(stmt) or 0)


def catalog_for_member(member_id: int) -> list[dict]:
    member = members_service.get_member(member_id)
    points = points_service.summary(member_id)
    now = clock.now()
    items = [i for i in db.session.scalars(select(CatalogItem).where(CatalogItem.active.is_(True))
                                           .order_by(CatalogItem.display_order, CatalogItem.id))
             if clock.open_at(i, now)]
    out = []
    for item in items:
        reasons = []
        if not ladder.tier_allowed(item.tiers, member):
            reasons.append("tier_not_allowed")
        if item.stock <= 0:
            reasons.append("out_of_stock")
        if points["debt"] > 0:
            reasons.append("points_in_debt")
        elif points["balance"] < item.points_price:
            reasons.append("insufficient_points")
        remaining = None
        if item.per_member_limit is not None:
            remaining = max(0, item.per_member_limit - _used(item, member_id))
            if remaining == 0:
                reasons.append("limit_reached")
        out.append({"item": item, "redeemable": not reasons, "reasons": reasons, "remaining_limit": remaining})
    return out


# --- redeeming ----------------------------------------------------------------------------------------

def _request_hash(item_id: int, quantity: int, store_code: str | None) -> str:
    body = f"{item_id}:{quantity}" if store_code is None else f"{item_id}:{quantity}:{store_code}"
    return hashlib.sha256(body.encode()).hexdigest()


def _pickup_store(item: CatalogItem, store_code: str | None) -> Store | None:
    """Where a pickup gift will be handed over: the member chooses, and only that store's staff may fulfil
    it (a clerk elsewhere could otherwise mark any member's gift handed over). Coupon items need none."""
    if item.kind != "pickup":
        return None
    if store_code is None:
        raise ValidationError("store_code", "Choose the store to pick this gift up at.", code="pickup_store_required")
    store = operators.find_open_store(store_code)
    if store is None:
        raise ValidationError("store_code", f"There is no open store {store_code}.", code="store_not_found")
    return store


def _by_key(member_id: int, key: str) -> Redemption | None:
    return db.session.scalar(select(Redemption).where(Redemption.member_id == member_id,
                                                      Redemption.idempotency_key == key))


def _replay(existing: Redemption, request_hash: str) -> Redemption:
    if existing.request_hash != request_hash:
        raise Conflict("This Idempotency-Key was used with another body.", code="idempotency_key_reused")
    return existing


def redeem(member_id: int, item_id: int, quantity: int, idempotency_key: str | None = None,
           store_code: str | None = None) -> Redemption:
    """Debit the points (FIFO lots) and take the stock in one transaction, or change nothing (409). A pickup
    item names the store (`store_code`) where the member will collect it."""

    if not 1 <= quantity <= MAX_QUANTITY:  # the schema says so too; services are called from elsewhere
        raise ValidationError("quantity", f"Must be between 1 and {MAX_QUANTITY}.")
    request_hash = _request_hash(item_id, quantity, store_code)
    try:
        with atomic():
            account = points_service.lock_account(member_id)
            if idempotency_key:
                existing = _by_key(member_id, idempotency_key)
                if existing is not None:
                    return _replay(existing, request_hash)
            item = db.session.get(CatalogItem, item_id)
            if item is None:
                raise NotFound("No such catalogue item.", code="item_not_found")
            db.session.refresh(item)  # the stock another request just took
            if not clock.open_at(item, clock.now()):
                raise Conflict("This item is not on sale now.", code="item_unavailable")
            store = _pickup_store(item, store_code)
            if not ladder.tier_allowed(item.tiers, members_service.get_member(member_id)):
                raise Forbidden("Members of this tier cannot redeem this item.", code="tier_not_allowed")
            if account.debt > 0:
                raise Conflict("Points owed after a refund must be paid back before redeeming.",
                               code="points_in_debt")
            if item.per_member_limit is not None and _used(item, member_id) + quantity > item.per_member_limit:
                raise Conflict(f"At most {item.per_member_limit} per member ({item.limit_period}).",
                               code="over_limit")
            if item.stock < quantity:
                raise Conflict("Not enough stock left.", code="out_of_stock")
            points_total = item.points_price * quantity
            if account.available < points_total:
                raise points_service.InsufficientPoints(
                    f"Only {account.available} points are available; {points_total} needed.")
            redemption = Redemption(
                member_id=member_id, item_id=item.id, quantity=quantity, points_total=points_total,
                cash_total=item.cash_price * quantity, state="awaiting_pickup", coupon_ids=[],
                pickup_store_id=store.id if store else None, idempotency_key=idempotency_key,
                request_hash=request_hash, created_at=clock.now())
            db.session.add(redemption)
            db.session.flush()
            entry = points_service.debit(member_id, points_total, kind="spend", key=f"redemption:{redemption.id}",
                                         cause_type="redemption", cause_id=redemption.id, note=item.name)
            redemption.spend_entry_id = entry.id
            taken = db.session.execute(
                update(CatalogItem).where(CatalogItem.id == item.id, CatalogItem.stock >= quantity)
                .values(stock=CatalogItem.stock - quantity).execution_options(synchronize_session=False))
            if taken.rowcount != 1:
                raise Conflict("Not enough stock left.", code="out_of_stock")
            if item.kind == "coupon":
                for number in range(1, quantity + 1):
                    coupon = issuing.grant(member_id, item.coupon_template_id,
                                           key=f"redemption:{redemption.id}:{number}", reason="mall")
                    redemption.coupon_ids = [*redemption.coupon_ids, coupon.id]
                redemption.state = "issued"
            db.session.flush()
            events.redemption_created.send(None, member_id=member_id, redemption_id=redemption.id, item_id=item.id,
                                           quantity=quantity, points=points_total)
            if redemption.state == "awaiting_pickup":  # tell the member it is ready, and where
                events.redemption_ready.send(None, member_id=member_id, redemption_id=redemption.id,
                                             item=item.name, store=store.name if store else None)
    except IntegrityError:  # the same Idempotency-Key raced in: the first one stands
        existing = _by_key(member_id, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return _replay(existing, request_hash)
    return redemption


def search_redemptions(filters: dict, limit: int, cursor: str | None) -> dict:
    stmt = select(Redemption)
    for name in ("member_id", "item_id", "state", "pickup_store_id"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(Redemption, name) == filters[name])
    return keyset_page(stmt, Redemption.id, limit, cursor)


def store_pickups(store_id: int, limit: int, cursor: str | None) -> dict:
    """The gifts waiting at a store: those its members chose to pick up there, oldest first in the page."""
    return search_redemptions({"pickup_store_id": store_id, "state": "awaiting_pickup"}, limit, cursor)


def my_redemptions(member_id: int, limit: int, cursor: str | None) -> dict:
    return keyset_page(select(Redemption).where(Redemption.member_id == member_id), Redemption.id, limit, cursor)


def _settled_error(redemption: Redemption) -> Conflict:
    db.session.refresh(redemption)
    messages = {"fulfilled": ("Already handed over.", "already_fulfilled"),
                "cancelled": ("Already cancelled.", "already_cancelled"),
                "issued": ("A coupon item is issued at once; it cannot be picked up or cancelled.", "not_pickup")}
    message, code = messages.get(redemption.state, ("Not waiting for pickup.", "not_awaiting_pickup"))
    return Conflict(message, code=code)


def fulfil(redemption_id: int, store_id: int, operator_id: int | None) -> Redemption:
    """Staff hand the gift over, once, at the store the member chose (403 `wrong_pickup_store` elsewhere);
    the store that did it is recorded."""
    with atomic():
        redemption = db.session.get(Redemption, redemption_id)
        if redemption is None:
            raise NotFound("No such redemption.", code="redemption_not_found")
        if redemption.pickup_store_id is not None and redemption.pickup_store_id != store_id:
            raise Forbidden(f"This gift is handed over at store {redemption.pickup_store.code}, the one the member "
                            "chose.", code="wrong_pickup_store")
        done = db.session.execute(
            update(Redemption).where(Redemption.id == redemption_id, Redemption.state == "awaiting_pickup")
            .values(state="fulfilled", fulfilled_at=clock.now(), fulfilled_store_id=store_id,
                    fulfilled_by_id=operator_id).execution_options(synchronize_session=False))
        if done.rowcount != 1:
            raise _settled_error(redemption)
        events.redemption_fulfilled.send(None, member_id=redemption.member_id, redemption_id=redemption_id,
                                         store_id=store_id)
    db.session.refresh(redemption)
    return redemption


def cancel(redemption_id: int, *, member_id: int | None = None, operator_id: int | None = None) -> Redemption:
    """Undo an unfulfilled pickup: points back as lots keeping their expiry, stock back. A member may
    cancel only their own (another member's id is 404, as if it did not exist)."""

    with atomic():
        redemption = db.session.get(Redemption, redemption_id)
        if redemption is None or (member_id is not None and redemption.member_id != member_id):
            raise NotFound("No such redemption.", code="redemption_not_found")
        points_service.lock_account(redemption.member_id)
        by = "member" if operator_id is None else f"operator:{operator_id}"
        done = db.session.execute(
            update(Redemption).where(Redemption.id == redemption_id, Redemption.state == "awaiting_pickup")
            .values(state="cancelled", cancelled_at=clock.now(), cancelled_by=by)
            .execution_options(synchronize_session=False))
        if done.rowcount != 1:
            raise _settled_error(redemption)
        db.session.refresh(redemption)
        before = {"state": "awaiting_pickup"}
        entry = points_service.restore(redemption.spend_entry_id, redemption.points_total,
                                       key=f"redemption:{redemption.id}", cause_type="redemption",
                                       cause_id=redemption.id)
        redemption.restore_entry_id = entry.id
        db.session.execute(update(CatalogItem).where(CatalogItem.id == redemption.item_id)
                           .values(stock=CatalogItem.stock + redemption.quantity)
                           .execution_options(synchronize_session=False))
        if operator_id is not None:
            audit.record("redemption.cancel", "redemption", redemption.id, before,
                         {"state": "cancelled", "points_returned": redemption.points_total,
                          "stock_returned": redemption.quantity})
    db.session.refresh(redemption)
    return redemption
