"""Issuing coupons: one, or a whole batch of members at once (grants), and the new-member coupons. None of
these commits: they run inside the caller's transaction (a grant job, a task reward, a mall redemption)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from app import clock, events
from app.errors import ApiError, Conflict, NotFound
from app.extensions import db
from app.sql import any_of, insert_many
from coupons.models import Coupon, CouponTemplate
from coupons.templates import audience_out, new_code, terms_snapshot
from members.models import Member

log = logging.getLogger(__name__)

# --- issuing one coupon ---------------------------------------------------------------------------------

def _validity_for_new(t: CouponTemplate, now: datetime) -> tuple[datetime, datetime]:
    """Fixed: the template's dates. Relative: from now to the end of the business day `days` days after issue."""
    if t.validity_kind == "fixed":
        return t.valid_start, t.valid_end
    return now, clock.end_of_business_day(clock.to_business_date(now) + timedelta(days=t.valid_days))


def ended(t: CouponTemplate, now: datetime) -> bool:
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
    terms = terms_snapshot(t)
    return [{"code": new_code(), "template_id": t.id, "member_id": member_id, "grant_key": key, "source": source,
             "reason": reason, "issue_id": issue_id, "title": t.title, "kind": t.kind, "terms": terms,
             "state": "available", "valid_from": valid_from, "valid_until": valid_until, "created_at": now}
            for member_id, key in grants]


def issue_one(t: CouponTemplate, member_id: int, *, key: str, source: str, reason: str | None) -> Coupon:
    now = clock.now()
    if not _take_stock(t.id):
        raise Conflict(f"Coupon template {t.code} is out of stock.", code="coupon_out_of_stock")
    rows = _coupon_rows(t, [(member_id, key)], source=source, reason=reason, now=now)
    coupon = Coupon(**rows[0])
    db.session.add(coupon)
    db.session.flush()
    _announce(rows)
    return coupon


def _announce(rows: list[dict]) -> None:
    """coupons_issued for new coupon rows (their codes stay here: a code is what a till verifies)."""
    events.coupons_issued.send(None, coupons=[
        {"member_id": row["member_id"], "template_id": row["template_id"], "title": row["title"],
         "kind": row["kind"], "source": row["source"], "grant_key": row["grant_key"],
         "valid_until": row["valid_until"]} for row in rows])


def issue_rows(t: CouponTemplate, grants: list[tuple[int, str]], *, source: str, reason: str | None,
                now: datetime, issue_id: int | None = None) -> None:
    """Insert many coupons of one template whose stock the caller checked under the template's row lock,
    in one statement (app.sql.insert_many)."""
    if not grants:
        return
    rows = _coupon_rows(t, grants, source=source, reason=reason, now=now, issue_id=issue_id)
    insert_many(Coupon.__table__, rows)
    t.issued_count += len(grants)
    _announce(rows)


def already_issued(template_id: int, member_ids: list[int], keys: set[str]) -> set[tuple[int, str]]:
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
    if ended(t, now):
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
        have |= {(template_id, m, k) for m, k in already_issued(
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
        issue_rows(templates[template_id], grants, source="grant", reason=reason, now=now)
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
        if not audience_out(template.audience)["new_members_only"]:
            continue
        try:
            grant(member_id, template.id, key="register", reason="new member")
            count += 1
        except ApiError as exc:
            log.info("new-member coupon %s skipped for member %s: %s", template.code, member_id, exc.code)
    return count


def withdraw(member_id: int, key: str) -> int:
    """Take back the still-available coupons granted to a member under `key` (a reward whose cause was
    refunded), inside the caller's transaction; a coupon already used stays used. Returns how many."""
    return db.session.execute(
        update(Coupon).where(Coupon.member_id == member_id, Coupon.grant_key == key, Coupon.state == "available")
        .values(state="revoked").execution_options(synchronize_session=False)).rowcount
