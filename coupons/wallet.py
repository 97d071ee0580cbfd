"""The member's side: the claim center (what this member may claim now, and claiming) and their wallet."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import exists, func, or_, select

from app import clock
from app.errors import Conflict, Forbidden, NotFound
from app.extensions import db
from app.pagination import keyset_page
from coupons.issuing import ended, issue_one
from coupons.models import STATES, Coupon, CouponTemplate
from coupons.schemas import CouponOut
from coupons.templates import audience_out, coupon_out, get_template, template_out
from members.models import Member, MemberTag

# --- claim center ---------------------------------------------------------------------------------------

def _is_new_member(member_id: int) -> bool:
    """A new member (新人) has not bought anything yet (the till counts every purchase on the member row)."""
    return not db.session.scalar(select(Member.purchase_count).where(Member.id == member_id))


def _block_reason(t: CouponTemplate, member: Member, claimed: int, now: datetime) -> str | None:
    """Why this member cannot claim this template now (None: they can); the center shows it."""
    if not t.active:
        return "stopped"
    if not t.claimable:
        return "not_claimable"
    if t.claim_start and clock.as_utc(t.claim_start) > now:
        return "not_started"
    if (t.claim_end and clock.as_utc(t.claim_end) <= now) or ended(t, now):
        return "ended"
    audience = audience_out(t.audience)
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
    coupon = issue_one(template, member_id, key=f"claim:{uuid.uuid4().hex}", source="claim", reason="claim center")
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

    return CouponOut(many=True).dump([coupon_out(c) for c in coupons])  # JSON-ready: the till embeds it as is
