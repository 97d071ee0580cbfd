"""Bearer tokens and the decorators that say who may call a route.

Three kinds of caller (ARCHITECTURE rule 9): members (WeChat login), store staff (bound to a store) and
marketing/admin operators. A token carries kind, role and store so a route can decide without more queries.
A store's POS calls the till routes with a signed API key instead (app/api_keys registers the check): it acts
in a store role, in its store, through the same decorators.

A signature alone would keep a token working for its whole life (12 h for operators, 7 days for members) after
its operator was disabled or its member's sessions were revoked. So each decoded token is also checked against
its subject's row: one primary-key read per request, by the check the row's owner registers
(`check_sessions_with`, like app/references.py: members live above this layer).
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from flask import current_app, g, request
from flask_smorest.utils import load_info_from_docstring

from app import clock
from app.errors import ApiError, Forbidden, Unauthorized
from app.fields import MAX_ID

STORE_ROLES = ("staff", "manager")  # act at a till, in their own store
ADMIN_ROLES = ("marketing", "admin")  # configure the program
ALL_ROLES = STORE_ROLES + ADMIN_ROLES


# kind -> check(subject id, claims): raises Unauthorized when the subject no longer accepts the token.
_session_checks: dict[str, Callable[[int, dict], None]] = {}
# (header naming the key, verify() -> Identity): the signed requests of server-to-server keys (app/api_keys).
_signed_requests: list[tuple[str, Callable[[], Identity]]] = []


def check_sessions_with(kind: str, check: Callable[[int, dict], None]) -> None:
    """Register the row check for one kind of token (the owner of that kind's table calls it at import)."""
    _session_checks[kind] = check


def verify_signed_requests_with(header: str, verify: Callable[[], Identity]) -> None:
    """Register the check of requests signed with an API key (sent with `header`) instead of a bearer token;
    the key's owner (app/api_keys) calls it at import."""
    _signed_requests.append((header, verify))


def revoked(message: str) -> Unauthorized:
    return Unauthorized(message, code="token_revoked")


@dataclass(frozen=True)
class Identity:
    kind: str  # "member" | "operator" | "api_key" (a POS or another system, acting in a store role)
    id: int
    role: str | None = None
    store_id: int | None = None


def issue_token(kind: str, subject_id: int, role: str | None = None, store_id: int | None = None) -> str:
    ttl = current_app.config["MEMBER_TOKEN_TTL" if kind == "member" else "OPERATOR_TOKEN_TTL"]
    now = clock.now().timestamp()
    # iat to the millisecond: a revocation (a member's `tokens_valid_after`) must tell apart the token issued just
    # before it from the login just after it, which whole seconds cannot.
    claims = {"sub": str(subject_id), "kind": kind, "iat": math.floor(now * 1000) / 1000, "exp": int(now) + ttl}
    if role:
        claims["role"] = role
    if store_id is not None:
        claims["store"] = store_id
    return jwt.encode(claims, current_app.config["SECRET_KEY"], algorithm="HS256")


@functools.lru_cache(maxsize=4096)
def _verified_claims(token: str, secret: str) -> dict:
    """The claims of a token whose signature and shape check out, cached per token (and key): a till sends the
    same token all day, and checking it again (HMAC, base64, JSON) was a measurable part of a purchase's CPU.
    A refused token raises, which caches nothing; expiry and the subject's row are checked on every request.
    Callers must not change the dict they get."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"],
                            options={"require": ["exp", "sub", "kind"], "verify_exp": False})
    except jwt.InvalidTokenError:
        raise Unauthorized("The token is invalid.", code="invalid_token") from None
    if not _well_formed(claims):
        raise Unauthorized("The token is invalid.", code="invalid_token")
    return claims


def _decode(token: str) -> Identity:
    claims = _verified_claims(token, current_app.config["SECRET_KEY"])
    if claims["exp"] <= int(clock.now().timestamp()):  # our clock, so tests can move it
        raise Unauthorized("The token has expired; log in again.", code="token_expired")
    check = _session_checks.get(claims["kind"])
    if check is None:
        raise RuntimeError(f"nothing checks {claims['kind']} tokens: is its package part of the app?")
    check(int(claims["sub"]), claims)
    return Identity(claims["kind"], int(claims["sub"]), claims.get("role"), claims.get("store"))


def _is_id(value: object) -> bool:
    return type(value) is int and 1 <= value <= MAX_ID


def _well_formed(claims: dict) -> bool:
    """The claims `issue_token` writes, of the types it writes. A signed token is ours, but the signing key
    is also the test key and a config value: a claim of another type must be a 401, never a 500 further on
    (`int("abc")`, a store id "S1" in a query)."""
    sub = claims["sub"]
    return (type(claims["exp"]) is int
            and type(claims.get("iat")) in (int, float)
            and claims["kind"] in ("member", "operator")
            and isinstance(sub, str) and sub.isascii() and sub.isdigit() and len(sub) <= 10 and _is_id(int(sub))
            and claims.get("role") in (None, *ALL_ROLES)
            and (claims.get("store") is None or _is_id(claims["store"])))


def current_identity() -> Identity:
    """The caller, decoded once per request; 401 without a valid bearer token or signed request. A refusal is
    kept too: a signed request is checked once (its nonce is spent by the first check)."""
    if "identity_error" in g:
        raise g.identity_error
    if "identity" not in g:
        for key_header, verify in _signed_requests:
            if request.headers.get(key_header):
                try:
                    g.identity = verify()
                except ApiError as error:
                    g.identity_error = error
                    raise
                return g.identity
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("A bearer token is required.", code="missing_token")
        g.identity = _decode(token.strip())
    return g.identity


def current_identity_key() -> str | None:
    """A stable key for rate limits, or None when the caller sent no valid token."""
    try:
        identity = current_identity()
    except ApiError:  # refused (kept in g): the route says why
        return None
    return f"{identity.kind}:{identity.id}"


def current_member_id() -> int:
    return current_identity().id


def current_operator_id() -> int | None:
    """The operator acting (recorded on a purchase, a verified coupon, a fulfilled gift), or None for a
    POS's API key: its calls are attributed in the audit log instead."""
    identity = current_identity()
    return identity.id if identity.kind == "operator" else None


def _documented(func: Callable, roles: str, signed: bool = False) -> Callable:
    """Mark the route as bearer-protected in the OpenAPI document (what `blp.doc` does), and open to a signed
    API key's request (`signed`) when a key's role may call it."""
    doc = getattr(func, "_apidoc", {})
    manual = doc.setdefault("manual_doc", {})
    manual["security"] = [{"bearer": []}, {"apiKeySignature": []}] if signed else [{"bearer": []}]
    if "description" not in manual:  # keep the docstring's own description (after its summary line) too
        written = load_info_from_docstring(func.__doc__ or "").get("description")
        manual["description"] = f"Caller: {roles}." + (f"\n\n{written}" if written else "")
    func._apidoc = doc
    return func


def member_required(func: Callable) -> Callable:
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if current_identity().kind != "member":
            raise Forbidden("This route is for members.")
        return func(*args, **kwargs)

    return _documented(wrapper, "member")


def operator_required(*roles: str) -> Callable[[Callable], Callable]:
    """Operators with one of `roles`; store roles must also carry a store. A POS's API key (which has a store
    role) may call only the routes of store roles alone, the till's: a route open to other roles too (an
    operator's own password) is for people."""
    allowed = roles or ALL_ROLES
    keys_allowed = set(allowed) <= set(STORE_ROLES)

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            identity = current_identity()
            if identity.kind == "api_key" and not keys_allowed:
                raise Forbidden("This route is not open to API keys.")
            if identity.kind not in ("operator", "api_key") or identity.role not in allowed:
                raise Forbidden(f"This route needs one of the roles: {', '.join(allowed)}.")
            if identity.role in STORE_ROLES and identity.store_id is None:
                raise Forbidden("This operator is not bound to a store.")
            return func(*args, **kwargs)

        return _documented(wrapper, ", ".join(allowed), signed=keys_allowed)

    return decorate


staff_required = operator_required(*STORE_ROLES)
admin_required = operator_required(*ADMIN_ROLES)


def current_store_id() -> int:
    store_id = current_identity().store_id
    if store_id is None:
        raise Forbidden("This operator is not bound to a store.")
    return store_id
