"""Operator accounts and their login.

Passwords are hashed with werkzeug.security, by the method of the PASSWORD_HASH_METHOD setting (scrypt; the
test suite picks a cheap one); a wrong password and an unknown user get the same answer so the login cannot be
used to discover usernames.
"""
from __future__ import annotations

from functools import cache

from flask import current_app
from sqlalchemy import bindparam, select
from werkzeug.security import check_password_hash, generate_password_hash

from app.auth import ALL_ROLES, STORE_ROLES, check_sessions_with, issue_token, revoked
from app.errors import Conflict, NotFound, Unauthorized, ValidationError
from app.extensions import db
from app.operators.models import Operator, Store


def _hash(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


@cache
def _dummy_hash(method: str) -> str:
    """Checked for an unknown username, so it costs the same hashing time as a known one: computed once per
    method, the method new passwords are hashed with."""
    return generate_password_hash("not-a-real-password", method=method)

_SESSION = select(Operator.active, Operator.role, Operator.store_id).where(Operator.id == bindparam("operator_id"))


def _check_session(operator_id: int, claims: dict) -> None:
    """An operator token works while its operator exists, is active, and has the role and store it was issued for
    (a token must not keep a role or a store the operator has lost)."""
    row = db.session.execute(_SESSION, {"operator_id": operator_id}).first()
    if row is None or not row.active:
        raise revoked("This operator account is disabled or gone.")
    if row.role != claims.get("role") or row.store_id != claims.get("store"):
        raise revoked("This operator's role or store changed; log in again.")


check_sessions_with("operator", _check_session)


def create_store(code: str, name: str) -> Store:
    if db.session.scalar(select(Store).where(Store.code == code)):
        raise Conflict(f"Store {code} already exists.", code="store_exists")
    store = Store(code=code, name=name)
    db.session.add(store)
    db.session.commit()
    return store


def get_store_by_code(code: str) -> Store:
    store = db.session.scalar(select(Store).where(Store.code == code))
    if store is None:
        raise NotFound(f"No store {code}.", code="store_not_found")
    return store


def open_stores() -> list[Store]:
    return list(db.session.scalars(select(Store).where(Store.active.is_(True)).order_by(Store.code)))


def find_open_store(code: str) -> Store | None:
    """The active store with this code, or None (a shopper choosing where to pick a gift up)."""
    return db.session.scalar(select(Store).where(Store.code == code, Store.active.is_(True)))


def create_operator(username: str, password: str, role: str, store_code: str | None = None) -> Operator:
    if role not in ALL_ROLES:
        raise ValidationError("role", f"Must be one of {', '.join(ALL_ROLES)}.")
    if len(password) < 8:
        raise ValidationError("password", "At least 8 characters.")
    store = get_store_by_code(store_code) if store_code else None
    if role in STORE_ROLES and store is None:
        raise ValidationError("store", f"A {role} must belong to a store.")
    if db.session.scalar(select(Operator).where(Operator.username == username)):
        raise Conflict(f"Operator {username} already exists.", code="operator_exists")
    operator = Operator(
        username=username,
        password_hash=_hash(password),
        role=role,
        store_id=store.id if store else None,
    )
    db.session.add(operator)
    db.session.commit()
    return operator


def login(username: str, password: str) -> dict:
    operator = db.session.scalar(select(Operator).where(Operator.username == username, Operator.active.is_(True)))
    if operator is None:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
    if operator is None or not check_password_hash(operator.password_hash, password):
        raise Unauthorized("Wrong username or password.", code="bad_credentials")
    token = issue_token("operator", operator.id, role=operator.role, store_id=operator.store_id)
    return {"token": token, "operator": operator}
