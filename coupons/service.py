"""Coupons: templates, issuing (claim center, automatic grants, targeted issues), the till and expiry.

The first five functions are the contract other domains call (the till, tiers, VIP, tasks, the mall);
their names and signatures do not change; `grant_many` is `grant` for a whole batch of members (the grant
jobs), and `grant` is implemented by it. None of them commits: they run inside the caller's transaction.
The routes' own operations (claim, verify, template admin, targeted issue) commit once at their end.

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

import logging
import secrets
import traceback
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, extract, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from app import clock
from app.audit import service as audit
from app.errors import ApiError, Conflict, Forbidden, NotFound, ServiceUnavailable, ValidationError
from app.extensions import db
from app.pagination import keyset_page
from app.sql import any_of, insert_many
from coupons.models import STATES, Coupon, CouponIssue, CouponTemplate
from members.models import Member, MemberTag, Tier
from points.models import Purchase

log = logging.getLogger(__name__)

TERM_FIELDS = ("kind", "amount_off", "percent", "max_discount", "gift_sku", "threshold", "scope", "validity",
               "stackable")
ISSUE_BATCH = 1000
EXPIRE_BATCH = 1000


# --- helpers ------------------------------------------------------------------------------------------

def new_code() -> str:
    """20 random digits: a barcode scanner reads it, nobody guesses it (~66 bits from `secrets`)."""
    return f"{secrets.randbelow(10**20):020d}"


def get_template(template_id: int) -> CouponTemplate:
    template = db.session.get(CouponTemplate, template_id)
    if template is None:
        raise NotFound(f"Coupon template {template_id} does not exist.", code="coupon_template_not_found")
    return template


def template_by_code(code: str) -> CouponTemplate | None:
    """Other domains' seeds and benefit tables name templates by their stable code."""
    return db.session.scalar(select(CouponTemplate).where(CouponTemplate.code == code))


def _validity_out(t: CouponTemplate) -> dict:
    if t.validity_kind == "fixed":
        return {"kind": "fixed", "start": clock.to_business_date(t.valid_start),
                "end": clock.to_business_date(t.valid_end) - timedelta(days=1), "days": None}
    return {"kind": "relative", "start": None, "end": None, "days": t.valid_days}


def _scope_out(scope: dict | None) -> dict:
    scope = scope or {}
    return {"kind": scope.get("kind", "all"), "values": list(scope.get("values") or []),
            "exclude": bool(scope.get("exclude", False))}


def _audience_out(audience: dict | None) -> dict:
    audience = audience or {}
    return {"tiers": list(audience.get("tiers") or []), "tags": list(audience.get("tags") or []),
            "new_members_only": bool(audience.get("new_members_only", False))}


def template_out(t: CouponTemplate) -> dict:
    return {
        "id": t.id, "code": t.code, "title": t.title, "description": t.description, "kind": t.kind,
        "amount_off": t.amount_off, "percent": t.percent, "max_discount": t.max_discount, "gift_sku": t.gift_sku,
        "threshold": t.threshold, "scope": _scope_out(t.scope), "validity": _validity_out(t), "stock": t.stock,
        "issued": t.issued_count, "per_member_limit": t.per_member_limit, "audience": _audience_out(t.audience),
        "claimable": t.claimable, "claim_start": t.claim_start, "claim_end": t.claim_end,
        "stackable": t.stackable, "active": t.active, "created_at": t.created_at, "updated_at": t.updated_at,
    }


def _terms_snapshot(t: CouponTemplate) -> dict:
    return {"kind": t.kind, "amount_off": t.amount_off, "percent": t.percent, "max_discount": t.max_discount,
            "gift_sku": t.gift_sku, "threshold": t.threshold, "scope": _scope_out(t.scope),
            "stackable": t.stackable, "description": t.description}


def coupon_out(c: Coupon) -> dict:
    """A coupon as members and staff see it; an available coupon past its end reads as expired at once,
    whether or not the expiry job has run yet."""
    state = c.state
    if state == "available" and clock.as_utc(c.valid_until) <= clock.now():
        state = "expired"
    return {"id": c.id, "code": c.code, "template_id": c.template_id, "title": c.title, "kind": c.kind,
            "state": state, "valid_from": c.valid_from, "valid_until": c.valid_until, "terms": c.terms,
            "used_at": c.used_at}


# --- catalogue look-ups (the products belong to the points/till domain) -------------------------------

def unknown_skus(skus: set[str]) -> set[str]:
    """SKUs absent from the product catalogue (a scope naming them would never match a cart)."""
    from points import products

    return set(skus) - set(products.for_skus(list(skus))) if skus else set()


def unknown_categories(categories: set[str]) -> set[str]:
    from points import products

    return set(categories) - products.known_categories(set(categories)) if categories else set()


# --- templates (admin) --------------------------------------------------------------------------------

def _check_audience_names(audience: dict, *, check_tags: bool = True) -> None:
    """Tier codes and tags must exist: an audience naming a typo would be accepted and then match nobody.
    A tag is known when some member carries it (the rule of the member search, reports.tags)."""
    from reports.tags import check_tags_known

    tiers = set(audience.get("tiers") or [])
    if tiers:
        known = set(db.session.scalars(select(Tier.code).where(Tier.code.in_(tiers))))
        if tiers - known:
            raise ValidationError("audience.tiers", f"Unknown tiers: {', '.join(sorted(tiers - known))}.",
                                  code="unknown_tier")
    if check_tags and audience.get("tags"):
        check_tags_known(audience["tags"], field="audience.tags")


def _check_terms(data: dict, check_catalog: bool = True, check_tags: bool = True) -> None:
    """Cross-field rules on a template's full state (create, or current state merged with a patch).
    A patch re-checks tags only when it changes the audience: a tag nobody carries any more must not block
    retitling or stopping the template."""
    kind = data.get("kind")
    if kind not in ("amount_off", "percent_off", "gift"):
        raise ValidationError("kind", "Must be one of amount_off, percent_off, gift.")
    threshold = data.get("threshold") or 0
    if kind == "amount_off":
        if not data.get("amount_off"):
            raise ValidationError("amount_off", "Required for an amount_off coupon.")
        if threshold and threshold < data["amount_off"]:
            raise ValidationError("threshold", "Must be 0 (no threshold) or at least the amount off.",
                                  code="threshold_below_discount")
    if kind == "percent_off":
        percent = data.get("percent")
        if percent is None or not 1 <= percent <= 99:
            raise ValidationError("percent", "Required, between 1 and 99 (the share paid: 88 = 88折).")
    if kind == "gift" and not data.get("gift_sku"):
        raise ValidationError("gift_sku", "Required for a gift coupon.")
    for name in ("amount_off", "percent", "max_discount", "gift_sku"):
        allowed = {"amount_off": "amount_off", "percent": "percent_off", "max_discount": "percent_off",
                   "gift_sku": "gift"}[name]
        if data.get(name) is not None and kind != allowed:
            raise ValidationError(name, f"Only for a {allowed} coupon.")
    validity = data.get("validity") or {}
    if validity.get("kind") == "fixed":
        if not validity.get("start") or not validity.get("end"):
            raise ValidationError("validity", "A fixed validity needs start and end dates.")
        if validity["end"] < validity["start"]:
            raise ValidationError("validity.end", "Must not be before the start.", code="end_before_start")
        if validity.get("days") is not None:
            raise ValidationError("validity.days", "Only for a relative validity.")
    elif validity.get("kind") == "relative":
        if not validity.get("days"):
            raise ValidationError("validity.days", "A relative validity needs days (1 or more).")
        if validity.get("start") or validity.get("end"):
            raise ValidationError("validity", "A relative validity has no start or end dates.")
    else:
        raise ValidationError("validity.kind", "Must be fixed or relative.")
    if data.get("claim_start") and data.get("claim_end") and data["claim_end"] <= data["claim_start"]:
        raise ValidationError("claim_end", "Must be after claim_start.", code="end_before_start")
    scope = _scope_out(data.get("scope"))
    if scope["kind"] not in ("all", "categories", "skus"):
        raise ValidationError("scope.kind", "Must be one of all, categories, skus.")
    if scope["kind"] == "all" and (scope["values"] or scope["exclude"]):
        raise ValidationError("scope.values", "A whole-order scope takes no values.")
    if scope["kind"] != "all" and not scope["values"]:
        raise ValidationError("scope.values", "Name at least one category or SKU.")
    stock = data.get("stock")
    if stock is not None and stock < data.get("issued", 0):
        raise ValidationError("stock", f"Must not be below the {data.get('issued')} coupons already issued.")
    _check_audience_names(_audience_out(data.get("audience")), check_tags=check_tags)
    if not check_catalog:
        return
    if scope["kind"] == "skus":
        missing = unknown_skus(set(scope["values"]))
        if missing:
            raise ValidationError("scope.values", f"Unknown SKUs: {', '.join(sorted(missing))}.", code="unknown_sku")
    if scope["kind"] == "categories":
        missing = unknown_categories(set(scope["values"]))
        if missing:
            raise ValidationError("scope.values", f"Unknown categories: {', '.join(sorted(missing))}.",
                                  code="unknown_category")
    if kind == "gift":
        missing = unknown_skus({data["gift_sku"]})
        if missing:
            raise ValidationError("gift_sku", f"Unknown SKU: {data['gift_sku']}.", code="unknown_sku")


def _apply(t: CouponTemplate, data: dict) -> None:
    for name in ("code", "title", "description", "kind", "amount_off", "percent", "max_discount", "gift_sku",
                 "threshold", "stock", "per_member_limit", "claimable", "claim_start", "claim_end", "stackable",
                 "active"):
        if name in data:
            setattr(t, name, data[name])
    if "scope" in data:
        t.scope = _scope_out(data["scope"])
    if "audience" in data:
        t.audience = _audience_out(data["audience"])
    if "validity" in data:
        validity = data["validity"]
        t.validity_kind = validity["kind"]
        if validity["kind"] == "fixed":
            t.valid_start = clock.start_of_business_day(validity["start"])
            t.valid_end = clock.end_of_business_day(validity["end"])
            t.valid_days = None
        else:
            t.valid_start = t.valid_end = None
            t.valid_days = validity["days"]


DEFAULTS = {"description": None, "amount_off": None, "percent": None, "max_discount": None, "gift_sku": None,
            "threshold": 0, "scope": {"kind": "all", "values": []}, "stock": None, "per_member_limit": 1,
            "audience": {}, "claimable": False, "claim_start": None, "claim_end": None, "stackable": False,
            "active": True}


CODE_ATTEMPTS = 5


def new_template_code() -> str:
    """`T` + 10 hex digits (40 random bits) when marketing names no code: short enough to type in a seed or
    a benefit table, and it never changes afterwards, so other domains may refer to it."""
    return f"T{uuid.uuid4().hex[:10].upper()}"


def create_template(data: dict, *, check_catalog: bool = True) -> CouponTemplate:
    """An explicit code that is taken is a 409; a generated one that clashes is drawn again."""
    data = {**DEFAULTS, **data}
    _check_terms(data, check_catalog)
    explicit = data.get("code")
    for _ in range(CODE_ATTEMPTS):
        code = explicit or new_template_code()
        if template_by_code(code) is not None:
            if explicit:
                raise Conflict(f"A template with code {code} exists.", code="coupon_template_code_taken")
            continue
        template = CouponTemplate(issued_count=0)
        _apply(template, {**data, "code": code})
        db.session.add(template)
        try:
            db.session.flush()
        except IntegrityError:  # a concurrent create took the code between the look-up and the insert
            db.session.rollback()
            if explicit:
                raise Conflict(f"A template with code {code} exists.", code="coupon_template_code_taken") from None
            continue
        break
    else:
        raise Conflict("Could not allot a free template code; try again.", code="coupon_template_code_taken")
    audit.record("coupon_template.create", "coupon_template", template.id, None, template_out(template))
    db.session.commit()
    return template


def _flush_code(code: str) -> None:
    """Two requests creating one code at once: the unique constraint decides, the loser gets a 409."""
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"A template with code {code} exists.", code="coupon_template_code_taken") from None


def update_template(template_id: int, changes: dict) -> CouponTemplate:
    """Terms of a template with issued coupons are frozen (each coupon keeps its own snapshot, and the
    members holding them were promised those terms); it can still be stopped, retitled, restocked.
    Stopping (`active: false`) ends claims, grants and targeted issues; coupons already held stay usable."""
    template = get_template(template_id)
    before = template_out(template)
    if template.issued_count > 0:
        changed = [name for name in TERM_FIELDS if name in changes and _normal(name, changes[name]) != before[name]]
        if changed:
            raise Conflict(f"Coupons were issued from this template; its terms cannot change ({', '.join(changed)}). "
                           "Stop it and create a new one.", code="coupon_template_in_use")
    if "code" in changes and changes["code"] != template.code and template_by_code(changes["code"]) is not None:
        raise Conflict(f"A template with code {changes['code']} exists.", code="coupon_template_code_taken")
    merged = {**before, **changes}
    _check_terms(merged, check_catalog=any(name in changes for name in ("scope", "gift_sku", "kind")),
                 check_tags="audience" in changes)
    _apply(template, changes)
    _flush_code(template.code)
    audit.record("coupon_template.update", "coupon_template", template.id, before, template_out(template))
    db.session.commit()
    return template


def _normal(name: str, value):
    if name == "scope":
        return _scope_out(value)
    if name == "validity":
        return {"kind": value.get("kind"), "start": value.get("start"), "end": value.get("end"),
                "days": value.get("days")}
    return value


def list_templates(limit: int, cursor: str | None, active: bool | None = None) -> dict:
    stmt = select(CouponTemplate)
    if active is not None:
        stmt = stmt.where(CouponTemplate.active.is_(active))
    page = keyset_page(stmt, CouponTemplate.id, limit, cursor)
    return {"items": [template_out(t) for t in page["items"]], "next_cursor": page["next_cursor"]}


# --- issuing one coupon ---------------------------------------------------------------------------------

def _validity_for_new(t: CouponTemplate, now: datetime) -> tuple[datetime, datetime]:
    """Fixed: the template's dates. Relative: from now to the end of the business day `days` days after issue."""
    if t.validity_kind == "fixed":
        return t.valid_start, t.valid_end
    return now, clock.end_of_business_day(clock.to_business_date(now) + timedelta(days=t.valid_days))


def _ended(t: CouponTemplate, now: datetime) -> bool:
    return t.validity_kind == "fixed" and clock.as_utc(t.valid_end) <= now


def _take_stock(template_id: int, count: int = 1) -> bool:
    """Conditional UPDATE on the issued counter: the database, not the code, keeps stock from overselling."""
    result = db.session.execute(
        update(CouponTemplate)
        .where(CouponTemplate.id == template_id, CouponTemplate.active.is_(True),
               or_(CouponTemplate.stock.is_(None), CouponTemplate.issued_count + count <= CouponTemplate.stock))
        .values(issued_count=CouponTemplate.issued_count + count)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _coupon_rows(t: CouponTemplate, grants: list[tuple[int, str]], *, source: str, reason: str | None,
                 now: datetime, issue_id: int | None = None) -> list[dict]:
    """The columns of new coupons, however they are issued (claim, grant, targeted issue): the terms and the
    validity are the template's at this moment, so later template edits change no coupon already held."""
    valid_from, valid_until = _validity_for_new(t, now)
    terms = _terms_snapshot(t)
    return [{"code": new_code(), "template_id": t.id, "member_id": member_id, "grant_key": key, "source": source,
             "reason": reason, "issue_id": issue_id, "title": t.title, "kind": t.kind, "terms": terms,
             "state": "available", "valid_from": valid_from, "valid_until": valid_until, "created_at": now}
            for member_id, key in grants]


def _issue_one(t: CouponTemplate, member_id: int, *, key: str, source: str, reason: str | None) -> Coupon:
    now = clock.now()
    if not _take_stock(t.id):
        raise Conflict(f"Coupon template {t.code} is out of stock.", code="coupon_out_of_stock")
    coupon = Coupon(**_coupon_rows(t, [(member_id, key)], source=source, reason=reason, now=now)[0])
    db.session.add(coupon)
    db.session.flush()
    return coupon


def _issue_rows(t: CouponTemplate, grants: list[tuple[int, str]], *, source: str, reason: str | None,
                now: datetime, issue_id: int | None = None) -> None:
    """Insert many coupons of one template whose stock the caller checked under the template's row lock,
    in one statement (app.sql.insert_many)."""
    if not grants:
        return
    insert_many(Coupon.__table__, _coupon_rows(t, grants, source=source, reason=reason, now=now, issue_id=issue_id))
    t.issued_count += len(grants)


def _already_issued(template_id: int, member_ids: list[int], keys: set[str]) -> set[tuple[int, str]]:
    """(member, key) pairs of this template that exist. A range on the unique index (template, member, key),
    not IN (1000 ids): PostgreSQL then reads only this batch's slice of the index instead of every coupon
    of the template."""
    if not member_ids:
        return set()
    rows = db.session.execute(select(Coupon.member_id, Coupon.grant_key).where(
        Coupon.template_id == template_id, Coupon.member_id.between(min(member_ids), max(member_ids)),
        Coupon.grant_key.in_(sorted(keys))))
    wanted = set(member_ids)
    return {(member_id, key) for member_id, key in rows if member_id in wanted}


def _find_granted(member_id: int, template_id: int, key: str) -> Coupon | None:
    return db.session.scalar(select(Coupon).where(Coupon.template_id == template_id, Coupon.member_id == member_id,
                                                  Coupon.grant_key == key))


@dataclass(frozen=True)
class GrantItem:
    """One coupon a grant job wants a member to have, with its idempotency key."""

    member_id: int
    template_id: int
    key: str


def _refusal(t: CouponTemplate | None, template_id: int, now: datetime) -> ApiError | None:
    if t is None:
        return NotFound(f"Coupon template {template_id} does not exist.", code="coupon_template_not_found")
    if not t.active:
        return Conflict(f"Coupon template {t.code} is stopped.", code="coupon_template_stopped")
    if _ended(t, now):
        return Conflict(f"Coupon template {t.code} has ended.", code="coupon_template_ended")
    return None


def grant_many(items: list[GrantItem], *, reason: str) -> dict[int, ApiError]:
    """Issue coupons automatically to many members at once (birthday gifts, tier and VIP packs), inside the
    caller's transaction (no commit); `grant` is this with one item. All or nothing per member: a member any
    of whose coupons cannot be issued (template missing, stopped, ended, out of stock; member unknown) gets
    none of them and is returned with the reason, so the caller can leave their grant for a later run.
    Idempotent: an existing (template, member, key) counts as issued and is not issued again.

    The templates are locked (FOR UPDATE, in id order) before anything is read, so stock is counted once under
    the lock and a concurrent grant of the same key waits and then finds the coupon (no savepoint needed).
    Per template one range read of existing coupons and one executemany insert, whatever the batch size."""
    from members.models import Member

    if not items:
        return {}
    now = clock.now()
    template_ids = sorted({item.template_id for item in items})
    templates = {t.id: t for t in db.session.scalars(
        select(CouponTemplate).where(CouponTemplate.id.in_(template_ids)).order_by(CouponTemplate.id)
        .with_for_update().execution_options(populate_existing=True))}
    member_ids = sorted({item.member_id for item in items})
    known = set(db.session.scalars(select(Member.id).where(any_of(Member.id, member_ids))))
    have: set[tuple[int, int, str]] = set()
    for template_id in templates:
        mine = [item for item in items if item.template_id == template_id]
        have |= {(template_id, m, k) for m, k in _already_issued(
            template_id, sorted({item.member_id for item in mine}), {item.key for item in mine})}
    room = {t.id: None if t.stock is None else max(0, t.stock - t.issued_count) for t in templates.values()}
    by_member: dict[int, list[GrantItem]] = {}
    for item in items:
        if (item.template_id, item.member_id, item.key) not in have:
            by_member.setdefault(item.member_id, []).append(item)
    failed: dict[int, ApiError] = {}
    todo: dict[int, list[tuple[int, str]]] = {}
    for member_id in sorted(by_member):  # stock runs out in member id order, the order of every batch
        wanted = list(dict.fromkeys((i.template_id, i.key) for i in by_member[member_id]))
        need: dict[int, int] = {}
        for template_id, _ in wanted:
            need[template_id] = need.get(template_id, 0) + 1
        error = None if member_id in known else NotFound("No such member.", code="member_not_found")
        for template_id, count in need.items():
            t = templates.get(template_id)
            error = error or _refusal(t, template_id, now)
            if error is None and room[template_id] is not None and room[template_id] < count:
                error = Conflict(f"Coupon template {t.code} is out of stock.", code="coupon_out_of_stock")
        if error is not None:
            failed[member_id] = error
            continue
        for template_id, count in need.items():
            if room[template_id] is not None:
                room[template_id] -= count
        for template_id, key in wanted:
            todo.setdefault(template_id, []).append((member_id, key))
    for template_id, grants in todo.items():
        _issue_rows(templates[template_id], grants, source="grant", reason=reason, now=now)
    return failed


def grant(member_id: int, template_id: int, *, key: str, reason: str) -> Coupon:
    """Issue one coupon automatically (new member, task reward, mall item), inside the caller's transaction
    (no commit). Idempotent: the same (member, template, key) returns the first coupon, enforced by a unique
    constraint. Takes stock (409 coupon_out_of_stock when none is left); the per-member limit is the claim
    center's rule and does not apply: the caller's key decides how often a grant happens."""
    existing = _find_granted(member_id, template_id, key)
    if existing is not None:
        return existing
    failed = grant_many([GrantItem(member_id, template_id, key)], reason=reason)
    if member_id in failed:
        raise failed[member_id]
    return _find_granted(member_id, template_id, key)


def grant_new_member_coupons(member_id: int) -> int:
    """Registration gifts: every active template whose audience is new members only. A gift that cannot be
    given (out of stock, ended) is skipped: registration never fails because of a coupon."""
    count = 0
    templates = db.session.scalars(select(CouponTemplate).where(CouponTemplate.active.is_(True))
                                   .order_by(CouponTemplate.id))
    for template in templates:
        if not _audience_out(template.audience)["new_members_only"]:
            continue
        try:
            grant(member_id, template.id, key="register", reason="new member")
            count += 1
        except ApiError as exc:
            log.info("new-member coupon %s skipped for member %s: %s", template.code, member_id, exc.code)
    return count


# --- claim center ---------------------------------------------------------------------------------------

def _is_new_member(member_id: int) -> bool:
    """A new member (新人) has not bought anything yet."""
    return not db.session.scalar(select(exists().where(Purchase.member_id == member_id)))


def _block_reason(t: CouponTemplate, member: Member, claimed: int, now: datetime) -> str | None:
    """Why this member cannot claim this template now (None: they can); the center shows it."""
    if not t.active:
        return "stopped"
    if not t.claimable:
        return "not_claimable"
    if t.claim_start and clock.as_utc(t.claim_start) > now:
        return "not_started"
    if (t.claim_end and clock.as_utc(t.claim_end) <= now) or _ended(t, now):
        return "ended"
    audience = _audience_out(t.audience)
    if audience["tiers"] and (member.tier is None or member.tier.code not in audience["tiers"]):
        return "not_in_audience"
    if audience["tags"] and not db.session.scalar(select(exists().where(
            MemberTag.member_id == member.id, MemberTag.tag.in_(audience["tags"])))):
        return "not_in_audience"
    if audience["new_members_only"] and not _is_new_member(member.id):
        return "new_members_only"
    if claimed >= t.per_member_limit:
        return "limit_reached"
    if t.stock is not None and t.issued_count >= t.stock:
        return "out_of_stock"
    return None


def _held_counts(member_id: int) -> dict[int, int]:
    rows = db.session.execute(select(Coupon.template_id, func.count(Coupon.id))
                              .where(Coupon.member_id == member_id).group_by(Coupon.template_id))
    return {template_id: count for template_id, count in rows}


def claim_center(member_id: int) -> list[dict]:
    """Active claimable templates whose claim window has not closed, each with whether this member may claim
    it now and, if not, why (not_started, not_in_audience, new_members_only, limit_reached, out_of_stock)."""
    member = db.session.get(Member, member_id)
    if member is None:
        raise NotFound("No such member.", code="member_not_found")
    now = clock.now()
    held = _held_counts(member_id)
    items = []
    for t in db.session.scalars(select(CouponTemplate).where(CouponTemplate.active.is_(True),
                                                             CouponTemplate.claimable.is_(True))
                                .order_by(CouponTemplate.id)):
        reason = _block_reason(t, member, held.get(t.id, 0), now)
        if reason == "ended":
            continue
        items.append({"template": template_out(t), "can_claim": reason is None, "reason": reason,
                      "claimed": held.get(t.id, 0),
                      "remaining": None if t.stock is None else max(0, t.stock - t.issued_count)})
    return items


CLAIM_ERRORS = {
    "stopped": (Conflict, "coupon_template_stopped", "This coupon is no longer offered."),
    "not_claimable": (Conflict, "coupon_not_claimable", "This coupon cannot be claimed in the center."),
    "not_started": (Conflict, "coupon_claim_not_started", "Claiming has not started yet."),
    "ended": (Conflict, "coupon_claim_ended", "Claiming has ended."),
    "not_in_audience": (Forbidden, "coupon_not_in_audience", "This coupon is for other members."),
    "new_members_only": (Forbidden, "coupon_new_members_only", "This coupon is for new members."),
    "limit_reached": (Conflict, "coupon_limit_reached", "You already hold as many of these as allowed."),
    "out_of_stock": (Conflict, "coupon_out_of_stock", "All of these coupons have been claimed."),
}


def claim(member_id: int, template_id: int) -> Coupon:
    """Take one coupon from the center. The member row is locked (FOR UPDATE) so one member's concurrent
    claims run one at a time and the per-member limit holds; stock is a conditional UPDATE on the template's
    issued counter, so many members racing for the last coupons get exactly the stock."""
    member = db.session.scalar(select(Member).where(Member.id == member_id).with_for_update())
    if member is None:
        raise NotFound("No such member.", code="member_not_found")
    template = get_template(template_id)
    claimed = db.session.scalar(select(func.count(Coupon.id)).where(Coupon.template_id == template_id,
                                                                    Coupon.member_id == member_id))
    reason = _block_reason(template, member, claimed, clock.now())
    if reason is not None:
        error, code, message = CLAIM_ERRORS[reason]
        raise error(message, code=code)
    coupon = _issue_one(template, member_id, key=f"claim:{uuid.uuid4().hex}", source="claim", reason="claim center")
    db.session.commit()
    return coupon


# --- the member's wallet --------------------------------------------------------------------------------

def list_member_coupons(member_id: int, state: str | None, limit: int, cursor: str | None) -> dict:
    now = clock.now()
    stmt = select(Coupon).where(Coupon.member_id == member_id)
    if state == "available":
        stmt = stmt.where(Coupon.state == "available", Coupon.valid_until > now)
    elif state == "expired":
        stmt = stmt.where(or_(Coupon.state == "expired", (Coupon.state == "available") & (Coupon.valid_until <= now)))
    elif state is not None:
        stmt = stmt.where(Coupon.state == state)
    page = keyset_page(stmt, Coupon.id, limit, cursor)
    return {"items": [coupon_out(c) for c in page["items"]], "next_cursor": page["next_cursor"]}


def member_coupon_counts(member_id: int) -> dict[str, int]:
    """How many of the member's coupons are in each state, as `coupon_out` shows them: an available coupon
    past its end counts as expired before the expiry job has run, so the counts agree with the wallet."""
    now = clock.now()
    counts = dict.fromkeys(STATES, 0)
    counts.update(db.session.execute(
        select(Coupon.state, func.count()).where(Coupon.member_id == member_id).group_by(Coupon.state)).all())
    stale = db.session.scalar(select(func.count()).select_from(Coupon).where(
        Coupon.member_id == member_id, Coupon.state == "available", Coupon.valid_until <= now))
    counts["available"] -= stale
    counts["expired"] += stale
    return counts


def usable_for_member(member_id: int) -> list[dict]:
    """The member's coupons usable now (shown at the till after a scan), soonest-expiring first, as the
    Coupon body of API.md (ISO times)."""
    now = clock.now()
    coupons = db.session.scalars(select(Coupon).where(
        Coupon.member_id == member_id, Coupon.state == "available", Coupon.valid_from <= now,
        Coupon.valid_until > now).order_by(Coupon.valid_until, Coupon.id))
    from coupons.schemas import CouponOut

    return CouponOut(many=True).dump([coupon_out(c) for c in coupons])  # JSON-ready: the till embeds it as is


# --- the till -------------------------------------------------------------------------------------------

def _in_scope(scope: dict, line: dict) -> bool:
    scope = _scope_out(scope)
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


# --- targeted issues ------------------------------------------------------------------------------------

def _audience_stmt(audience: dict):
    stmt = select(Member.id)
    if audience.get("audience_id"):  # a saved audience: the filter copied when the issue was created
        from reports.audiences import member_filter

        return stmt.where(*member_filter(audience["filter"]))
    if audience.get("member_ids"):
        stmt = stmt.where(Member.id.in_(audience["member_ids"]))
    if audience.get("tiers"):
        stmt = stmt.where(Member.tier_id.in_(select(Tier.id).where(Tier.code.in_(audience["tiers"]))))
    if audience.get("tags"):
        stmt = stmt.where(exists().where(MemberTag.member_id == Member.id, MemberTag.tag.in_(audience["tags"])))
    if audience.get("birthday_month"):
        stmt = stmt.where(extract("month", Member.birthday) == audience["birthday_month"])
    return stmt


def _saved_audience_filter(audience_id: int) -> dict:
    from reports import audiences

    try:
        saved = audiences.get(audience_id)
    except NotFound:
        raise ValidationError("audience.audience_id", f"No saved audience {audience_id}.",
                              code="audience_not_found") from None
    return audiences.check_filter(saved.filter)


def create_issue(template_id: int, audience: dict, key: str | None,
                 operator_id: int | None) -> tuple[CouponIssue, bool]:
    """Record a targeted issue (audited) and return (issue, created). Members match every criterion given
    (tiers, tags: any of them; member_ids; birthday_month), or a saved audience alone (`audience_id`, whose
    filter is copied into the issue so a re-run after a crash walks the same filter even if marketing edits
    the audience meanwhile); `all_members` must be said explicitly. The same key for the same template is the
    same issue: a retried POST gets the first one back (`request_issue` queues it again only if not done).
    Unknown tier codes or tags are a 422 before anything is written."""
    template = get_template(template_id)
    if key:
        existing = db.session.scalar(select(CouponIssue).where(CouponIssue.template_id == template_id,
                                                               CouponIssue.key == key))
        if existing is not None:
            if {k: v for k, v in existing.audience.items() if k != "filter"} != audience:
                raise Conflict("This issue key was used with another audience.", code="issue_key_reused")
            return existing, False
    if not template.active:
        raise Conflict(f"Coupon template {template.code} is stopped.", code="coupon_template_stopped")
    if _ended(template, clock.now()):
        raise Conflict(f"Coupon template {template.code} has ended.", code="coupon_template_ended")
    criteria = [name for name in ("tiers", "tags", "member_ids", "birthday_month") if audience.get(name)]
    if audience.get("audience_id"):
        if criteria or audience.get("all_members"):
            raise ValidationError("audience.audience_id", "A saved audience cannot be combined with other criteria.")
        audience = {**audience, "filter": _saved_audience_filter(audience["audience_id"])}
    elif not criteria and not audience.get("all_members"):
        raise ValidationError("audience", "Name tiers, tags, member_ids or birthday_month, a saved audience_id, "
                              "or all_members: true.", code="audience_empty")
    if criteria and audience.get("all_members"):
        raise ValidationError("audience.all_members", "Cannot be combined with other criteria.")
    _check_audience_names(audience)
    issue = CouponIssue(template_id=template_id, key=key or uuid.uuid4().hex, audience=audience,
                        created_by_id=operator_id, state="queued")
    db.session.add(issue)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("This issue key is being used by another request.", code="issue_key_reused") from None
    audit.record("coupon_template.issue", "coupon_template", template_id, None,
                 {"issue_id": issue.id, "key": issue.key, "audience": audience})
    db.session.commit()
    return issue, True


def issue_job_id(issue_id: int) -> str:
    return f"coupon-issue-{issue_id}"


def enqueue_issue(issue_id: int) -> bool:
    """Hand the issue to an RQ worker on the `grants` queue (one job per issue, batches inside), retried with
    the project's backoff. Returns False, queueing nothing, while a job for this issue is queued, running or
    waiting for its retry: the job id is derived from the issue, so a second enqueue is refused. A finished or
    failed job of the issue is replaced (a re-post re-queues a failed issue). Unlike the periodic jobs there
    is no three-day claim key: the issue's own state, not a calendar period, says whether it still has work.
    Two enqueues racing past the check are harmless: the batches are idempotent."""
    from rq import Queue, Retry
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    from app import jobs as job_runtime
    from app.redis_store import get_redis

    connection = get_redis()
    job_id = issue_job_id(issue_id)
    try:
        previous = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        previous = None
    if previous is not None:
        if previous.get_status() in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
            log.info("coupon issue %s already has a live job: refusing a second enqueue", issue_id)
            return False
        previous.delete()  # out of the failed/finished registries before its id is reused
    Queue("grants", connection=connection).enqueue(
        "coupons.jobs.issue_coupons", kwargs={"issue_id": issue_id}, job_id=job_id, job_timeout=3600,
        retry=Retry(max=job_runtime.MAX_RETRIES, interval=job_runtime.RETRY_INTERVALS),
        meta={"run_key": f"issue-{issue_id}"}, result_ttl=24 * 3600, failure_ttl=14 * 24 * 3600,
        description=f"issue_coupons {issue_id}",
    )
    return True


def request_issue(template_id: int, audience: dict, key: str | None, operator_id: int | None) -> CouponIssue:
    """POST .../issue: record the issue (or find the one with this key) and queue it unless it is done.
    Queueing happens after the commit, so Redis failing in between leaves a recorded issue with no job; the
    client is told (503) and re-posting the same key queues it then. A re-post also re-queues a failed
    issue: it resumes after its last finished batch."""
    from redis.exceptions import RedisError

    issue, _ = create_issue(template_id, audience, key, operator_id)
    if issue.state == "done":
        return issue
    try:
        queued = enqueue_issue(issue.id)
    except RedisError:
        log.exception("coupon issue %s recorded but not queued", issue.id)
        raise ServiceUnavailable(f"Issue {issue.id} is recorded but could not be queued; post it again with key "
                                 f"{issue.key} to queue it.", code="coupon_issue_not_queued") from None
    if queued and issue.state == "failed":
        # Conditional: a worker that already picked the job up has moved it to running.
        db.session.execute(update(CouponIssue).where(CouponIssue.id == issue.id, CouponIssue.state == "failed")
                           .values(state="queued"))
        db.session.commit()
    return issue


def get_issue(template_id: int, issue_id: int) -> CouponIssue:
    issue = db.session.get(CouponIssue, issue_id)
    if issue is None or issue.template_id != template_id:
        raise NotFound(f"Issue {issue_id} does not exist.", code="coupon_issue_not_found")
    return issue


def _issue_batch(issue_id: int, batch_size: int) -> tuple[int, int, int, int] | None:
    """One keyset batch: one SELECT of members, one of who already has it, one multi-row INSERT, in one
    transaction with the progress. Returns (scanned, issued, skipped, failed) or None when done."""
    issue = db.session.get(CouponIssue, issue_id)
    member_ids = list(db.session.scalars(_audience_stmt(issue.audience).where(Member.id > issue.last_member_id)
                                         .order_by(Member.id).limit(batch_size)))
    if not member_ids:
        return None
    template = db.session.scalar(select(CouponTemplate).where(CouponTemplate.id == issue.template_id)
                                 .with_for_update().execution_options(populate_existing=True))
    key = f"issue:{issue.key}"
    have = {member_id for member_id, _ in _already_issued(template.id, member_ids, {key})}
    todo = [m for m in member_ids if m not in have]
    now = clock.now()
    failed = 0
    if todo and (not template.active or _ended(template, now)):
        failed, todo = len(todo), []
        issue.error = "template stopped or ended"
    if template.stock is not None and len(todo) > template.stock - template.issued_count:
        room = max(0, template.stock - template.issued_count)
        failed += len(todo) - room
        todo = todo[:room]
        issue.error = "out of stock"
    _issue_rows(template, [(member_id, key) for member_id in todo], source="issue", reason=f"issue {issue.id}",
                now=now, issue_id=issue.id)
    issue.issued += len(todo)
    issue.skipped += len(have)
    issue.failed += failed
    issue.last_member_id = member_ids[-1]
    db.session.commit()
    return len(member_ids), len(todo), len(have), failed


JOB_ERROR_PREFIX = "job failed: "


def run_issue(issue_id: int, batch_size: int = ISSUE_BATCH, *, last_try: bool = True) -> dict:
    """The job: issue to the audience in keyset batches of members, each batch its own transaction.
    Killed and re-run, it resumes after the last finished batch; a batch redone after a crash between insert
    and commit is harmless because (template, member, issue key) is unique. Out of stock: counted as failed.

    An exception is written on the issue before it propagates, so whoever polls the issue sees why: with a
    retry to come (`last_try` false) the issue stays running with the error, after the last try it is failed.
    A later successful run clears that error (an out-of-stock or stopped-template note stays)."""
    from app import jobs as job_runtime

    issue = db.session.get(CouponIssue, issue_id)
    if issue is None:
        raise NotFound(f"Issue {issue_id} does not exist.", code="coupon_issue_not_found")
    counts = {"scanned": 0, "changed": 0, "skipped": 0, "failed": 0}
    if issue.state == "done":
        return counts
    issue.state = "running"
    db.session.commit()
    try:
        retries = 0
        while True:
            try:
                step = _issue_batch(issue_id, batch_size)
            except IntegrityError:  # a concurrent runner of the same issue inserted first: redo the batch
                db.session.rollback()
                retries += 1
                if retries > 3:
                    raise
                continue
            if step is None:
                break
            scanned, issued, skipped, failed = step
            counts["scanned"] += scanned
            counts["changed"] += issued
            counts["skipped"] += skipped
            counts["failed"] += failed
            job_runtime.batch_done(counts)
        issue = db.session.get(CouponIssue, issue_id)
        issue.state = "done"
        issue.finished_at = clock.now()
        if issue.error and issue.error.startswith(JOB_ERROR_PREFIX):
            issue.error = None
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        _record_issue_failure(issue_id, exc, final=last_try)
        raise
    return counts


def _record_issue_failure(issue_id: int, exc: Exception, *, final: bool) -> None:
    """Best effort: when the database itself is what failed, the job run's row (its own connection) and the
    RQ failed registry still say why."""
    message = "".join(traceback.format_exception_only(exc)).strip()
    try:
        db.session.execute(update(CouponIssue).where(CouponIssue.id == issue_id, CouponIssue.state != "done").values(
            state="failed" if final else "running", error=(JOB_ERROR_PREFIX + message)[:500]))
        db.session.commit()
    except Exception:  # noqa: BLE001 - the original error is the one to raise
        db.session.rollback()
        log.exception("could not record the failure of coupon issue %s", issue_id)


# --- expiry ---------------------------------------------------------------------------------------------

def expire_coupons(batch_size: int = EXPIRE_BATCH) -> dict:
    """Mark available coupons past their end as expired, in keyset batches each committed on its own;
    re-runnable (a second run finds nothing). Returns {"scanned", "changed", "skipped", "failed"}."""
    now = clock.now()
    counts = {"scanned": 0, "changed": 0, "skipped": 0, "failed": 0}
    last_id = 0
    while True:
        ids = list(db.session.scalars(select(Coupon.id).where(
            Coupon.state == "available", Coupon.valid_until <= now, Coupon.id > last_id)
            .order_by(Coupon.id).limit(batch_size)))
        if not ids:
            break
        result = db.session.execute(update(Coupon).where(Coupon.id.in_(ids), Coupon.state == "available")
                                    .values(state="expired").execution_options(synchronize_session=False))
        db.session.commit()
        counts["scanned"] += len(ids)
        counts["changed"] += result.rowcount
        counts["skipped"] += len(ids) - result.rowcount
        last_id = ids[-1]
    return counts


def coupons_expiring_within(days: int, after_id: int = 0, limit: int = 1000) -> list[dict]:
    """Available coupons ending within `days` days from now (for the reminder message), keyset-paged by id:
    pass the last id back as `after_id` until an empty list. The scheduler decides how often to remind."""
    now = clock.now()
    rows = db.session.execute(
        select(Coupon.id, Coupon.member_id, Coupon.code, Coupon.title, Coupon.valid_until)
        .where(Coupon.state == "available", Coupon.valid_until > now,
               Coupon.valid_until <= now + timedelta(days=days), Coupon.id > after_id)
        .order_by(Coupon.id).limit(limit)
    )
    return [{"id": r.id, "member_id": r.member_id, "code": r.code, "title": r.title, "valid_until": r.valid_until}
            for r in rows]


# --- figures for reports ------------------------------------------------------------------------------

def coupon_stats(start: datetime | None = None, end: datetime | None = None) -> dict:
    """Coupons issued, used and expired in [start, end) (all time when None), and the use rate in percent
    (used / issued of coupons issued in the window, 0 when none): what the reports summary shows.
    "expired" counts coupons whose last valid day is in the window, unused: a coupon valid through 2 March ends
    at the first instant of 3 March, so its end is matched in (start, end], not [start, end)."""
    def window(column, closed_end: bool = False):
        conditions = []
        if start is not None:
            conditions.append(column > start if closed_end else column >= start)
        if end is not None:
            conditions.append(column <= end if closed_end else column < end)
        return conditions

    issued = db.session.scalar(select(func.count(Coupon.id)).where(*window(Coupon.created_at)))
    used = db.session.scalar(select(func.count(Coupon.id)).where(Coupon.state == "used", *window(Coupon.used_at)))
    used_of_issued = db.session.scalar(select(func.count(Coupon.id)).where(Coupon.state == "used",
                                                                           *window(Coupon.created_at)))
    expired = db.session.scalar(select(func.count(Coupon.id)).where(
        Coupon.state.in_(("available", "expired")), Coupon.valid_until <= clock.now(),
        *window(Coupon.valid_until, closed_end=True)))
    return {"issued": issued, "used": used, "expired": expired,
            "use_rate": round(100 * used_of_issued / issued, 1) if issued else 0}
