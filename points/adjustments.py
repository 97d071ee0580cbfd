"""Manual points adjustments by marketing: a reason is required, the balance never goes below zero, every
adjustment is audited, and an `Idempotency-Key` makes a retried click count once."""
from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError

from app.audit import service as audit
from app.errors import Conflict, ValidationError
from app.extensions import db
from members import service as members_service
from points import ledger as ledger
from points.models import LedgerEntry


def _answer(entry: LedgerEntry) -> dict:
    return {"entry": entry, "balance": ledger.summary(entry.member_id)["balance"]}


def _same(entry: LedgerEntry, delta: int, reason: str) -> LedgerEntry:
    if entry.delta != delta or entry.note != reason:
        raise Conflict("This Idempotency-Key was already used with a different request.",
                       code="idempotency_key_conflict")
    return entry


def adjust(member_id: int, delta: int, reason: str, idempotency_key: str | None) -> dict:
    """Add (delta > 0) or take (delta < 0) points; taking more than the member has is 409 insufficient_points.
    The reason is what the ledger and the audit log show later: blank (spaces only) is no reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("reason", "Say why the points change.", code="reason_required")
    members_service.get_member(member_id)
    key = f"admin-adjust:{member_id}:{idempotency_key or uuid.uuid4().hex}"
    try:
        account = ledger.lock_account(member_id)
        existing = ledger.find_entry("adjust", key)
        if existing is not None:
            entry = _same(existing, delta, reason)
            db.session.rollback()
            return _answer(entry)
        before = {"available": account.available, "pending": account.pending, "debt": account.debt}
        if delta > 0:
            entry = ledger.credit(member_id, delta, kind="adjust", key=key, cause_type="adjustment",
                                  cause_id=idempotency_key, note=reason)
        else:
            entry = ledger.debit(member_id, -delta, kind="adjust", key=key, cause_type="adjustment",
                                 cause_id=idempotency_key, note=reason)
        audit.record("points.adjust", "member", member_id, before,
                     {"available": account.available, "pending": account.pending, "debt": account.debt,
                      "delta": delta, "reason": reason, "entry_id": entry.id})
        answer = _answer(entry)
        db.session.commit()
        return answer
    except IntegrityError:
        db.session.rollback()
        existing = ledger.find_entry("adjust", key)
        if existing is None:
            raise
        return _answer(_same(existing, delta, reason))
    except Exception:
        db.session.rollback()
        raise
