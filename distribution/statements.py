"""What a promoter reads about their own business: fans, the commission on their orders and their ledger.
Other shoppers' names and orders are masked: a promoter learns that a fan bought, not who or what exactly."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.pagination import decode_cursor, encode_cursor
from distribution.models import Binding, Commission, Promoter, PromoterEntry
from members.models import Member
from till.models import Purchase


def mask_name(nickname: str | None) -> str | None:
    """The first character and a star: 小明 -> 小*, Alice -> A*."""
    if not nickname:
        return None
    return nickname[0] + "*"


def mask_order(order_no: str) -> str:
    return order_no[:2] + "****" + order_no[-2:] if len(order_no) > 4 else "****"


def _promoter_id(member_id: int) -> int | None:
    return db.session.scalar(select(Promoter.id).where(Promoter.member_id == member_id))


def _page(rows: list, limit: int, key) -> tuple[list, str | None]:
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(key(rows[-1])) if more else None


def fans(member_id: int, limit: int, cursor: str | None) -> dict:
    """My bound shoppers, newest binding first (their nicknames masked)."""
    promoter_id = _promoter_id(member_id)
    if promoter_id is None:
        return {"items": [], "next_cursor": None}
    stmt = (select(Binding, Member.nickname).join(Member, Member.id == Binding.member_id)
            .where(Binding.promoter_id == promoter_id).order_by(Binding.member_id.desc()).limit(limit + 1))
    if cursor:
        stmt = stmt.where(Binding.member_id < decode_cursor(cursor))
    rows, next_cursor = _page(db.session.execute(stmt).all(), limit, lambda row: row[0].member_id)
    return {"items": [{"nickname": mask_name(nickname), "bound_at": binding.bound_at, "expires_at": binding.expires_at,
                       "channel": binding.channel, "bought": binding.bought} for binding, nickname in rows],
            "next_cursor": next_cursor}


def commissions(member_id: int, limit: int, cursor: str | None) -> dict:
    """My commission, newest first: each order masked (a mall gift's as MALL<id>), with what refunds took back."""
    promoter_id = _promoter_id(member_id)
    if promoter_id is None:
        return {"items": [], "next_cursor": None}
    stmt = (select(Commission, Purchase.order_no, Member.nickname)
            .outerjoin(Purchase, Purchase.id == Commission.purchase_id)
            .join(Member, Member.id == Commission.buyer_id).where(Commission.promoter_id == promoter_id)
            .order_by(Commission.id.desc()).limit(limit + 1))
    if cursor:
        stmt = stmt.where(Commission.id < decode_cursor(cursor))
    rows, next_cursor = _page(db.session.execute(stmt).all(), limit, lambda row: row[0].id)
    return {"items": [{"id": row.id, "order": mask_order(order_no or f"MALL{row.redemption_id}"),
                       "buyer": mask_name(nickname), "depth": row.depth,
                       "base": row.base, "amount": row.amount, "reversed": row.reversed, "state": row.state,
                       "settle_at": row.settle_at, "created_at": row.created_at} for row, order_no, nickname in rows],
            "next_cursor": next_cursor}


def ledger(member_id: int, limit: int, cursor: str | None) -> dict:
    promoter_id = _promoter_id(member_id)
    if promoter_id is None:
        return {"items": [], "next_cursor": None}
    stmt = (select(PromoterEntry).where(PromoterEntry.promoter_id == promoter_id).order_by(PromoterEntry.id.desc())
            .limit(limit + 1))
    if cursor:
        stmt = stmt.where(PromoterEntry.id < decode_cursor(cursor))
    rows, next_cursor = _page(list(db.session.scalars(stmt)), limit, lambda row: row.id)
    return {"items": rows, "next_cursor": next_cursor}
