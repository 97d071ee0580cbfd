"""Reading the ledger: the shopper's own history and marketing's view of members (search and detail)."""
from __future__ import annotations

from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.pagination import decode_cursor, encode_cursor, keyset_page
from coupons import service as coupons_service
from members import service as members_service
from members.models import Member, MemberIdentity, MemberTag, Tier
from points import service as ledger
from points.models import LedgerEntry, PointsAccount


def member_ledger(member_id: int, limit: int, cursor: str | None) -> dict:
    """Newest first, keyset on (member_id, id): one index range scan per page however long the history.

    Ordering by (member_id, id) rather than id alone matters on PostgreSQL: with `ORDER BY id` the planner
    may walk the primary key backwards filtering on member_id (seconds for a heavy member's old pages on a
    10M-row ledger, see bench/README.md); this order matches ix_points_ledger_member_id_id exactly."""
    stmt = select(LedgerEntry).where(LedgerEntry.member_id == member_id)
    if cursor:
        last_id = decode_cursor(cursor)
        if not isinstance(last_id, int) or isinstance(last_id, bool):
            raise ValidationError("cursor", "Not a cursor this API issued.", code="bad_cursor")
        stmt = stmt.where(LedgerEntry.id < last_id)
    rows = list(db.session.scalars(
        stmt.order_by(LedgerEntry.member_id.desc(), LedgerEntry.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor(rows[-1].id) if more else None}


def _row(member: Member, balances: dict[int, PointsAccount]) -> dict:
    account = balances.get(member.id)
    return {
        "id": member.id,
        "nickname": member.nickname,
        "phone": members_service.mask_phone(member.phone),
        "tier": member.tier,
        "growth": member.growth,
        "points_balance": (account.available - account.debt) if account else 0,
        "vip_until": member.vip_until,
        "created_at": member.created_at,
    }


def search_members(filters: dict, limit: int, cursor: str | None) -> dict:
    stmt = select(Member)
    if filters.get("phone"):
        stmt = stmt.where(Member.phone == filters["phone"])
    if filters.get("openid"):
        stmt = stmt.where(Member.id.in_(select(MemberIdentity.member_id).where(
            MemberIdentity.kind == "openid", MemberIdentity.value == filters["openid"])))
    if filters.get("tier"):
        stmt = stmt.where(Member.tier_id.in_(select(Tier.id).where(Tier.code == filters["tier"])))
    if filters.get("tag"):
        stmt = stmt.where(Member.id.in_(select(MemberTag.member_id).where(MemberTag.tag == filters["tag"])))
    page = keyset_page(stmt, Member.id, limit, cursor)
    ids = [m.id for m in page["items"]]
    balances = {a.member_id: a for a in db.session.scalars(select(PointsAccount).where(
        PointsAccount.member_id.in_(ids)))} if ids else {}
    return {"items": [_row(m, balances) for m in page["items"]], "next_cursor": page["next_cursor"]}


def member_detail(member_id: int) -> dict:
    profile = members_service.profile(member_id)
    tags = list(db.session.scalars(select(MemberTag).where(MemberTag.member_id == member_id).order_by(MemberTag.tag)))
    return profile | {
        "tags": [{"tag": t.tag, "source": t.source} for t in tags],
        "ledger": member_ledger(member_id, 20, None),
        "coupons": coupons_service.usable_for_member(member_id),
        "points_account": ledger.summary(member_id),
    }
