"""Operator accounts and their login.

Passwords are hashed with werkzeug.security (scrypt); a wrong password and an unknown user get the same
answer so the login cannot be used to discover usernames.
"""
from __future__ import annotations

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.auth import ALL_ROLES, STORE_ROLES, issue_token
from app.errors import Conflict, NotFound, Unauthorized, ValidationError
from app.extensions import db
from app.operators.models import Operator, Store

# Computed once so an unknown username costs the same hashing time as a known one.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


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
        password_hash=generate_password_hash(password),
        role=role,
        store_id=store.id if store else None,
    )
    db.session.add(operator)
    db.session.commit()
    return operator


def login(username: str, password: str) -> dict:
    operator = db.session.scalar(select(Operator).where(Operator.username == username, Operator.active.is_(True)))
    if operator is None:
        check_password_hash(_DUMMY_HASH, password)
    if operator is None or not check_password_hash(operator.password_hash, password):
        raise Unauthorized("Wrong username or password.", code="bad_credentials")
    token = issue_token("operator", operator.id, role=operator.role, store_id=operator.store_id)
    return {"token": token, "operator": operator}
