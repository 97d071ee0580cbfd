"""Who is a promoter: granted by marketing, applied for on an open route (check-in days, spend, an active paid
VIP), or bought as a pack (distribution/packs.py); revoked by marketing. A promoter's card for the
mini-program and marketing's list.

A revoked promoter keeps what was already earned (pending commission still settles, settled money can still
be withdrawn) but binds no one and earns nothing new; marketing's grant gives the role back.
"""
from __future__ import annotations

import secrets

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from app import clock
from app.audit import service as audit
from app.errors import Conflict, Forbidden, NotFound
from app.extensions import db
from app.pagination import decode_cursor, encode_cursor
from distribution import program
from distribution.models import Binding, Promoter, PromoterLevel
from members.models import Member
from members.service import mask_phone
from tasks.models import CheckIn
from till.models import Purchase

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud and typed


def new_code() -> str:
    return "P" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(7))


def of_member(member_id: int) -> Promoter | None:
    return db.session.scalar(select(Promoter).where(Promoter.member_id == member_id))


def get(promoter_id: int) -> Promoter:
    promoter = db.session.get(Promoter, promoter_id)
    if promoter is None:
        raise NotFound("No such promoter.", code="promoter_not_found")
    return promoter


def by_code(code: str) -> Promoter | None:
    return db.session.scalar(select(Promoter).where(Promoter.code == code))


def _parent_of(member: Member) -> int | None:
    """The new promoter's own inviter (what a second level pays): the promoter they are bound to now, else the
    member who invited them, if that member is a promoter."""
    bound = db.session.scalar(select(Binding.promoter_id).where(Binding.member_id == member.id,
                                                                  Binding.expires_at > clock.now()))
    if bound is not None:
        return bound
    if member.invited_by_id is not None:
        return db.session.scalar(select(Promoter.id).where(Promoter.member_id == member.invited_by_id))
    return None


def _start_level() -> int | None:
    return db.session.scalar(select(PromoterLevel.id).order_by(PromoterLevel.rank).limit(1))


def become(member_id: int, source: str) -> Promoter:
    """Make the member a promoter (in the caller's transaction): a new row, or a revoked one active again."""
    member = db.session.get(Member, member_id)
    if member is None:
        raise NotFound("No such member.", code="member_not_found")
    promoter = of_member(member_id)
    if promoter is not None:
        if promoter.state == "active":
            raise Conflict("This member is already a promoter.", code="already_promoter")
        if source != "granted":
            raise Forbidden("Marketing revoked this promoter; only marketing can give the role back.",
                            code="promoter_revoked")
        promoter.state, promoter.source, promoter.revoked_at = "active", source, None
        return promoter
    promoter = Promoter(member_id=member_id, code=new_code(), state="active", source=source,
                        level_id=_start_level(), parent_id=_parent_of(member), pending=0, balance=0, frozen=0,
                        withdrawn=0, fans=0, gmv=0, created_at=clock.now())
    db.session.add(promoter)
    db.session.flush()
    return promoter


def grant(member_id: int) -> Promoter:
    """Marketing picks a KOC/KOL (from the KOC report or a search) and grants the role (audited)."""
    try:
        promoter = become(member_id, "granted")
        audit.record("distribution.grant", "promoter", promoter.id, None, {"member_id": member_id})
        db.session.commit()
    except IntegrityError:  # a concurrent grant or application of the same member won
        db.session.rollback()
        raise Conflict("This member is already a promoter.", code="already_promoter") from None
    except Exception:
        db.session.rollback()
        raise
    return promoter


def revoke(promoter_id: int, reason: str) -> Promoter:
    promoter = get(promoter_id)
    if promoter.state == "revoked":
        raise Conflict("This promoter is already revoked.", code="promoter_revoked")
    promoter.state, promoter.revoked_at = "revoked", clock.now()
    audit.record("distribution.revoke", "promoter", promoter.id, {"state": "active"},
                 {"state": "revoked", "reason": reason})
    db.session.commit()
    return promoter


# --- routes a member can take themselves ----------------------------------------------------------------

def routes(member_id: int) -> list[dict]:
    """The open routes and how far the member is on each (what the mini-program shows before applying)."""
    settings = program.settings()
    found = []
    if settings.checkin_days:
        days = db.session.scalar(select(func.count()).select_from(CheckIn).where(CheckIn.member_id == member_id))
        found.append({"route": "checkins", "required": settings.checkin_days, "progress": int(days),
                      "met": days >= settings.checkin_days})
    if settings.spend:
        spent = db.session.scalar(select(func.coalesce(func.sum(Purchase.paid - Purchase.refunded_amount), 0))
                                  .where(Purchase.member_id == member_id))
        found.append({"route": "spend", "required": settings.spend, "progress": int(spent),
                      "met": spent >= settings.spend})
    if settings.vip_route:
        vip_until = db.session.scalar(select(Member.vip_until).where(Member.id == member_id))
        active = vip_until is not None and vip_until > clock.now()
        found.append({"route": "vip", "required": 1, "progress": int(active), "met": active})
    if settings.pack_price:
        found.append({"route": "pack", "required": settings.pack_price, "progress": 0, "met": False})
    return found


def apply(member_id: int) -> Promoter:
    """A member whose condition is true on an open route becomes a promoter at once (no review: the route's
    condition is the review); the first route met names the source."""
    if not program.enabled():
        raise Forbidden("Distribution is not open.", code="distribution_off")
    met = next((route["route"] for route in routes(member_id) if route["met"]), None)
    if met is None:
        raise Forbidden("No open route to promoter is met yet.", code="not_eligible")
    try:
        promoter = become(member_id, met)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("This member is already a promoter.", code="already_promoter") from None
    except Exception:
        db.session.rollback()
        raise
    return promoter


# --- views ----------------------------------------------------------------------------------------------

def _level_of(promoter: Promoter) -> PromoterLevel | None:
    return db.session.get(PromoterLevel, promoter.level_id) if promoter.level_id else None


def rates(promoter: Promoter) -> list[dict]:
    """The commission rules that apply to this promoter's level (what the card shows)."""
    return [{"name": rule.name, "sku": rule.sku, "category": rule.category, "rate_bp": rule.rate_bp,
             "cap_per_order": rule.cap_per_order}
            for rule in program.current().rules if rule.level_id in (None, promoter.level_id)]


def card(member_id: int) -> dict:
    """My promoter card, or the routes to become one."""
    promoter = of_member(member_id)
    if promoter is None:
        return {"promoter": None, "routes": routes(member_id), "enabled": program.enabled()}
    level = _level_of(promoter)
    return {"promoter": {
        "id": promoter.id, "code": promoter.code, "state": promoter.state, "source": promoter.source,
        "level": {"code": level.code, "name": level.name, "rank": level.rank} if level else None,
        "rates": rates(promoter), "pending": promoter.pending, "available": max(promoter.balance, 0),
        "debt": max(-promoter.balance, 0), "withdrawing": promoter.frozen, "withdrawn": promoter.withdrawn,
        "fans": promoter.fans, "gmv": promoter.gmv, "since": promoter.created_at,
    }, "routes": [], "enabled": program.enabled()}


def admin_rows(state: str | None, level_id: int | None, q: str | None):
    """Marketing's promoter list: the statement (paged by the caller), filtered."""
    stmt = select(Promoter, Member.nickname, Member.phone).join(Member, Member.id == Promoter.member_id)
    if state:
        stmt = stmt.where(Promoter.state == state)
    if level_id:
        stmt = stmt.where(Promoter.level_id == level_id)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(Member.nickname.like(like), Member.phone.like(like), Promoter.code == q.upper()))
    return stmt


def admin_view(promoter: Promoter, nickname: str | None, phone: str | None) -> dict:
    return {"id": promoter.id, "member_id": promoter.member_id, "nickname": nickname, "phone": mask_phone(phone),
            "code": promoter.code, "state": promoter.state, "source": promoter.source, "level_id": promoter.level_id,
            "parent_id": promoter.parent_id, "pending": promoter.pending, "balance": promoter.balance,
            "frozen": promoter.frozen, "withdrawn": promoter.withdrawn, "fans": promoter.fans, "gmv": promoter.gmv,
            "created_at": promoter.created_at, "revoked_at": promoter.revoked_at}


def admin_page(state: str | None, level_id: int | None, q: str | None, limit: int, cursor: str | None) -> dict:
    """A page of marketing's promoter list, newest first."""
    stmt = admin_rows(state, level_id, q)
    if cursor:
        stmt = stmt.where(Promoter.id < decode_cursor(cursor))
    rows = db.session.execute(stmt.order_by(Promoter.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [admin_view(*row) for row in rows], "next_cursor": encode_cursor(rows[-1][0].id) if more else None}


def admin_one(promoter_id: int) -> dict:
    row = db.session.execute(admin_rows(None, None, None).where(Promoter.id == promoter_id)).one_or_none()
    if row is None:
        raise NotFound("No such promoter.", code="promoter_not_found")
    return admin_view(*row)
