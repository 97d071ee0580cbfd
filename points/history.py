"""Reading the ledger: the shopper's own history and marketing's page of one member's history."""
from __future__ import annotations

from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.pagination import decode_cursor, encode_cursor
from members import service as members_service
from points.models import LedgerEntry


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


def admin_member_ledger(member_id: int, limit: int, cursor: str | None) -> dict:
    """Marketing's page of one member's ledger: the same listing as the shopper's, but an unknown member is a
    404 rather than an empty page, so a typo in the console is not mistaken for a member without history."""
    members_service.get_member(member_id)
    return member_ledger(member_id, limit, cursor)
