"""The one helper every admin write calls, inside the caller's transaction (so no change goes unlogged)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import g, has_request_context
from sqlalchemy import select

from app.audit.models import AuditLog
from app.extensions import db
from app.operators.models import Operator
from app.pagination import keyset_page


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _operator_username(operator_id: int) -> str | None:
    """The name as it was at the time: the log must still say who it was after the account is renamed."""

    if "operator_username" not in g:
        g.operator_username = db.session.scalar(select(Operator.username).where(Operator.id == operator_id))
    return g.operator_username


def record(action: str, target_type: str, target_id: Any, before: dict | None, after: dict | None) -> AuditLog:
    """Add an audit row to the current session; the calling service commits it with its change."""
    actor_kind, actor_id, actor_name = "system", None, None
    if has_request_context() and "identity" in g and g.identity.kind == "operator":
        actor_kind, actor_id = "operator", g.identity.id
        actor_name = _operator_username(actor_id)
    elif has_request_context() and "identity" in g and g.identity.kind == "api_key":  # a POS's signed request
        actor_kind, actor_id, actor_name = "api_key", g.identity.id, g.get("api_key_name")
    row = AuditLog(
        actor_kind=actor_kind,
        actor_id=actor_id,
        actor_name=actor_name,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        before=_jsonable(before),
        after=_jsonable(after),
        request_id=g.get("request_id") if has_request_context() else None,
    )
    db.session.add(row)
    return row


def search(filters: dict, limit: int, cursor: str | None) -> dict:
    stmt = select(AuditLog)
    for name in ("actor_id", "action", "target_type", "target_id"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(AuditLog, name) == filters[name])
    if filters.get("since"):
        stmt = stmt.where(AuditLog.created_at >= filters["since"])
    if filters.get("until"):
        stmt = stmt.where(AuditLog.created_at < filters["until"])
    return keyset_page(stmt, AuditLog.id, limit, cursor)
