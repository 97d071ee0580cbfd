"""Coupon templates (marketing): terms, scope, validity, audience and their checks, and how templates and
coupons are shown."""
from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import clock, references
from app.audit import service as audit
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.pagination import keyset_page
from catalog import service as products
from coupons.models import Coupon, CouponTemplate
from members.tags import check_tags_known
from tiers import ladder


def _template_exists(template_id: int) -> bool:
    try:
        get_template(template_id)
    except NotFound:
        return False
    return True


references.provide("coupon_template", _template_exists)  # tiers' and VIP plans' packs name templates

TERM_FIELDS = ("kind", "amount_off", "percent", "max_discount", "gift_sku", "threshold", "scope", "validity",
               "stackable")

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


def scope_out(scope: dict | None) -> dict:
    scope = scope or {}
    return {"kind": scope.get("kind", "all"), "values": list(scope.get("values") or []),
            "exclude": bool(scope.get("exclude", False))}


def audience_out(audience: dict | None) -> dict:
    audience = audience or {}
    return {"tiers": list(audience.get("tiers") or []), "tags": list(audience.get("tags") or []),
            "new_members_only": bool(audience.get("new_members_only", False))}


def template_out(t: CouponTemplate) -> dict:
    return {
        "id": t.id, "code": t.code, "title": t.title, "description": t.description, "kind": t.kind,
        "amount_off": t.amount_off, "percent": t.percent, "max_discount": t.max_discount, "gift_sku": t.gift_sku,
        "threshold": t.threshold, "scope": scope_out(t.scope), "validity": _validity_out(t), "stock": t.stock,
        "issued": t.issued_count, "per_member_limit": t.per_member_limit, "audience": audience_out(t.audience),
        "claimable": t.claimable, "claim_start": t.claim_start, "claim_end": t.claim_end,
        "stackable": t.stackable, "active": t.active, "created_at": t.created_at, "updated_at": t.updated_at,
        "terms_frozen": t.issued_count > 0,
    }


def terms_snapshot(t: CouponTemplate) -> dict:
    return {"kind": t.kind, "amount_off": t.amount_off, "percent": t.percent, "max_discount": t.max_discount,
            "gift_sku": t.gift_sku, "threshold": t.threshold, "scope": scope_out(t.scope),
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


# --- templates (admin) --------------------------------------------------------------------------------

def check_audience_names(audience: dict, *, check_tags: bool = True) -> None:
    """Tier codes and tags must exist: an audience naming a typo would be accepted and then match nobody.
    A tag is known when some member carries it (members.tags)."""

    ladder.check_codes(audience.get("tiers") or [], "audience.tiers")
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
            raise ValidationError("amount_off", "Required for an amount_off coupon.", code="required_for_kind")
        if threshold and threshold < data["amount_off"]:
            raise ValidationError("threshold", "Must be 0 (no threshold) or at least the amount off.",
                                  code="threshold_below_discount")
    if kind == "percent_off":
        percent = data.get("percent")
        if percent is None or not 1 <= percent <= 99:
            raise ValidationError("percent", "Required, between 1 and 99 (the share paid: 88 = 88折).",
                                  code="required_for_kind")
    if kind == "gift" and not data.get("gift_sku"):
        raise ValidationError("gift_sku", "Required for a gift coupon.", code="required_for_kind")
    for name in ("amount_off", "percent", "max_discount", "gift_sku"):
        allowed = {"amount_off": "amount_off", "percent": "percent_off", "max_discount": "percent_off",
                   "gift_sku": "gift"}[name]
        if data.get(name) is not None and kind != allowed:
            raise ValidationError(name, f"Only for a {allowed} coupon.", code="not_for_kind")
    validity = data.get("validity") or {}
    if validity.get("kind") == "fixed":
        if not validity.get("start") or not validity.get("end"):
            raise ValidationError("validity", "A fixed validity needs start and end dates.", code="validity_incomplete")
        if validity["end"] < validity["start"]:
            raise ValidationError("validity.end", "Must not be before the start.", code="end_before_start")
        if validity.get("days") is not None:
            raise ValidationError("validity.days", "Only for a relative validity.")
    elif validity.get("kind") == "relative":
        if not validity.get("days"):
            raise ValidationError("validity.days", "A relative validity needs days (1 or more).",
                                  code="validity_incomplete")
        if validity.get("start") or validity.get("end"):
            raise ValidationError("validity", "A relative validity has no start or end dates.")
    else:
        raise ValidationError("validity.kind", "Must be fixed or relative.")
    if data.get("claim_start") and data.get("claim_end") and data["claim_end"] <= data["claim_start"]:
        raise ValidationError("claim_end", "Must be after claim_start.", code="end_before_start")
    scope = scope_out(data.get("scope"))
    if scope["kind"] not in ("all", "categories", "skus"):
        raise ValidationError("scope.kind", "Must be one of all, categories, skus.")
    if scope["kind"] == "all" and (scope["values"] or scope["exclude"]):
        raise ValidationError("scope.values", "A whole-order scope takes no values.")
    if scope["kind"] != "all" and not scope["values"]:
        raise ValidationError("scope.values", "Name at least one category or SKU.")
    stock = data.get("stock")
    if stock is not None and stock < data.get("issued", 0):
        raise ValidationError("stock", f"Must not be below the {data.get('issued')} coupons already issued.")
    check_audience_names(audience_out(data.get("audience")), check_tags=check_tags)
    if not check_catalog:
        return
    if scope["kind"] == "skus":
        missing = products.unknown_skus(set(scope["values"]))
        if missing:
            raise ValidationError("scope.values", f"Unknown SKUs: {', '.join(sorted(missing))}.", code="unknown_sku")
    if scope["kind"] == "categories":
        missing = products.unknown_categories(set(scope["values"]))
        if missing:
            raise ValidationError("scope.values", f"Unknown categories: {', '.join(sorted(missing))}.",
                                  code="unknown_category")
    if kind == "gift":
        missing = products.unknown_skus({data["gift_sku"]})
        if missing:
            raise ValidationError("gift_sku", f"Unknown SKU: {data['gift_sku']}.", code="unknown_sku")


def _apply(t: CouponTemplate, data: dict) -> None:
    for name in ("code", "title", "description", "kind", "amount_off", "percent", "max_discount", "gift_sku",
                 "threshold", "stock", "per_member_limit", "claimable", "claim_start", "claim_end", "stackable",
                 "active"):
        if name in data:
            setattr(t, name, data[name])
    if "scope" in data:
        t.scope = scope_out(data["scope"])
    if "audience" in data:
        t.audience = audience_out(data["audience"])
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
        return scope_out(value)
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
