"""Operator accounts and their login.

Passwords are hashed with werkzeug.security, by the method of the PASSWORD_HASH_METHOD setting (scrypt; the
test suite picks a cheap one); a wrong password and an unknown user get the same answer so the login cannot be
used to discover usernames.
"""
from __future__ import annotations

import re
from functools import cache

from flask import current_app
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app import config_cache
from app.audit import service as audit
from app.auth import ALL_ROLES, STORE_ROLES, check_sessions_with, issue_token, revoked
from app.errors import Conflict, NotFound, Unauthorized, ValidationError
from app.extensions import db
from app.operators.models import Operator, Store
from app.pagination import keyset_page

MIN_PASSWORD = 8


def _hash(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


@cache
def _dummy_hash(method: str) -> str:
    """Checked for an unknown username, so it costs the same hashing time as a known one: computed once per
    method, the method new passwords are hashed with."""
    return generate_password_hash("not-a-real-password", method=method)

def _load_sessions() -> dict[int, tuple[bool, str, int | None]]:
    """Every operator's (active, role, store_id): what a token is checked against. Operators are few and rarely
    change, and every till request checks one: kept in the per-process configuration copy (app.config_cache),
    whose token every ORM write of an operator changes, so a disabled, moved or deleted operator's token stops
    working with the first request after the change is committed, in every process, as with a row read."""
    return {row.id: (row.active, row.role, row.store_id)
            for row in db.session.execute(select(Operator.id, Operator.active, Operator.role, Operator.store_id))}


_sessions_copy = config_cache.register("operator_sessions", _load_sessions, (Operator,))


def _check_session(operator_id: int, claims: dict) -> None:
    """An operator token works while its operator exists, is active, and has the role and store it was issued for
    (a token must not keep a role or a store the operator has lost). No statement of its own in a transaction
    that reads the configuration copy anyway (a quote, a purchase); the copy's token otherwise."""
    row = _sessions_copy().get(operator_id)
    if row is None or not row[0]:
        raise revoked("This operator account is disabled or gone.")
    if row[1] != claims.get("role") or row[2] != claims.get("store"):
        raise revoked("This operator's role or store changed; log in again.")


check_sessions_with("operator", _check_session)


USERNAME = re.compile(r"[A-Za-z0-9_.-]{2,64}")  # typed at a till: ASCII only, no look-alikes
STORE_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")


def create_store(code: str, name: str, *, audited: bool = True) -> Store:
    """A new store; audited unless seeded (the demo, the test fixtures), like ladder.save_tier."""
    if not STORE_CODE.fullmatch(code or ""):
        raise ValidationError("code", "1-32 letters, digits, _ or -.", code="bad_store_code")
    if not (name or "").strip() or len(name) > 128:
        raise ValidationError("name", "1-128 characters.")
    if db.session.scalar(select(Store).where(Store.code == code)):
        raise Conflict(f"Store {code} already exists.", code="store_exists")
    store = Store(code=code, name=name)
    db.session.add(store)
    db.session.flush()
    if audited:
        audit.record("store.create", "store", store.id, None, {"code": code, "name": name})
    db.session.commit()
    return store


def list_stores() -> list[Store]:
    """Every store, by code: a brand has tens of stores, not thousands, so no paging."""
    return list(db.session.scalars(select(Store).order_by(Store.code)))


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


def _check_password(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(field, f"At least {MIN_PASSWORD} characters.", code="password_too_short")


def _store_for(role: str, store_code: str | None) -> Store | None:
    """The store an operator of `role` belongs to: store roles need one (their till is that store's),
    marketing and admins work across stores and hold none."""
    if role not in ALL_ROLES:
        raise ValidationError("role", f"Must be one of {', '.join(ALL_ROLES)}.", code="bad_role")
    if role not in STORE_ROLES:
        return None
    store = get_store_by_code(store_code) if store_code else None
    if store is None:
        raise ValidationError("store", f"A {role} must belong to a store.", code="store_required")
    return store


def operator_out(operator: Operator) -> dict:
    """What the audit log keeps of an operator (never the password hash)."""
    return {"username": operator.username, "role": operator.role, "store_id": operator.store_id,
            "active": operator.active}


def create_operator(username: str, password: str, role: str, store_code: str | None = None, *,
                    audited: bool = True) -> Operator:
    """A new account; audited unless seeded. Store staff and managers are bound to one store."""
    if not USERNAME.fullmatch(username or ""):
        raise ValidationError("username", "2-64 letters, digits, _ . or -.", code="bad_username")
    store = _store_for(role, store_code)
    _check_password(password)
    if db.session.scalar(select(Operator).where(Operator.username == username)):
        raise Conflict(f"Operator {username} already exists.", code="operator_exists")
    operator = Operator(
        username=username,
        password_hash=_hash(password),
        role=role,
        store_id=store.id if store else None,
    )
    db.session.add(operator)
    db.session.flush()
    if audited:
        audit.record("operator.create", "operator", operator.id, None, operator_out(operator))
    db.session.commit()
    return operator


def get_operator(operator_id: int) -> Operator:
    operator = db.session.get(Operator, operator_id)
    if operator is None:
        raise NotFound(f"No operator {operator_id}.", code="operator_not_found")
    return operator


def active_operator(operator_id: int) -> Operator | None:
    """The operator if the account is still active: a console session re-checks it on every request, so
    disabling an account ends its sessions at once."""
    operator = db.session.get(Operator, operator_id, populate_existing=True)
    return operator if operator is not None and operator.active else None


def list_operators(filters: dict, limit: int, cursor: str | None) -> dict:
    stmt = select(Operator)
    for name in ("role", "store_id", "active"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(Operator, name) == filters[name])
    return keyset_page(stmt, Operator.id, limit, cursor)


def update_operator(operator_id: int, changes: dict, actor_id: int | None = None) -> Operator:
    """An admin disables or re-enables an account, changes its role or store, or resets its password;
    audited. An admin cannot disable or demote their own account (the last admin would lock everyone out)."""
    operator = get_operator(operator_id)
    before = operator_out(operator)
    if actor_id == operator_id and (changes.get("active") is False or changes.get("role", "admin") != "admin"):
        raise ValidationError("active", "You cannot disable or demote your own account.", code="self_lockout")
    role = changes.get("role", operator.role)
    if "role" in changes or "store" in changes:
        current_code = operator.store.code if operator.store else None
        store = _store_for(role, changes.get("store", current_code))
        operator.role, operator.store_id = role, store.id if store else None
    if "active" in changes:
        operator.active = bool(changes["active"])
    if changes.get("password"):
        _check_password(changes["password"])
        operator.password_hash = _hash(changes["password"])
    after = operator_out(operator)
    audit.record("operator.update", "operator", operator.id, before,
                 {**after, "password_reset": bool(changes.get("password"))})
    db.session.commit()
    return operator


def change_own_password(operator_id: int, current: str, new: str) -> None:
    """An operator changes their own password, proving the current one first (a session left open on a
    shared till must not be enough to take the account over)."""
    operator = active_operator(operator_id)
    if operator is None:
        raise Unauthorized("This account is disabled.", code="operator_inactive")
    if not check_password_hash(operator.password_hash, current):
        raise ValidationError("current_password", "The current password is wrong.", code="wrong_password")
    _check_password(new, "new_password")
    operator.password_hash = _hash(new)
    audit.record("operator.password", "operator", operator.id, None, {"changed": True})
    db.session.commit()


def authenticate(username: str, password: str) -> Operator:
    """The active operator with these credentials, or 401 `bad_credentials`: the API's token login and
    the console's session sign-in both go through here."""
    operator = db.session.scalar(select(Operator).where(Operator.username == username, Operator.active.is_(True)))
    if operator is None:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
    if operator is None or not check_password_hash(operator.password_hash, password):
        raise Unauthorized("Wrong username or password.", code="bad_credentials")
    return operator


def login(username: str, password: str) -> dict:
    operator = authenticate(username, password)
    token = issue_token("operator", operator.id, role=operator.role, store_id=operator.store_id)
    return {"token": token, "operator": operator}
