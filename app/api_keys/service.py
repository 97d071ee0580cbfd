"""API keys for the brand's POS and other systems: made, rotated and revoked by an admin; every signed
request checked here before a route runs (registered with app.auth, which knows nothing of this table).

A request is accepted when: its four headers are there (401 `missing_signature`); its timestamp is within
SIGNATURE_WINDOW of our clock (401 `stale_timestamp`); the key exists (401 `unknown_api_key`) and is not
revoked (401 `api_key_revoked`); the signature matches the key's secret or, during a rotation's grace period,
its previous one (401 `bad_signature`); its nonce was not seen within the window (401 `nonce_reused`, kept in
Redis for twice the window, so a replay is refused for as long as its timestamp would pass); the key has not
made more than its `rate_per_minute` calls this minute (429 `rate_limited`). Then the caller acts as a
till operator of the key's role in the key's store (a key of every store names one in X-Store), through the
same role and store checks as a clerk's token: an S1 key cannot refund an S2 order.
"""
from __future__ import annotations

import hmac
import re
import secrets as random
from datetime import timedelta

from flask import current_app, g, request
from sqlalchemy import bindparam, select

from app import clock
from app.api_keys import secrets, signing
from app.api_keys.models import ApiKey
from app.audit import service as audit
from app.auth import STORE_ROLES, Identity, verify_signed_requests_with
from app.errors import ApiError, Conflict, Forbidden, NotFound, Unauthorized, ValidationError
from app.extensions import db
from app.operators.models import Store
from app.pagination import keyset_page
from app.redis_store import get_redis

SIGNATURE_WINDOW = 300  # seconds either side of our clock
NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
TIMESTAMP = re.compile(r"[0-9]{1,12}")
KEY_ID = re.compile(r"pk_[0-9a-f]{24}")
PURPOSE, PREFIX = "api-key", "sk_"
MAX_GRACE_HOURS = 7 * 24


def _secret(salt: str) -> str:
    return secrets.derive(PURPOSE, salt, PREFIX)


def _store_id(code: str | None) -> int | None:
    if code is None:
        return None
    store = db.session.scalar(select(Store).where(Store.code == code))
    if store is None:
        raise ValidationError("store", f"No store {code}.", code="unknown_store")
    return store.id


def _view(key: ApiKey, secret: str | None = None) -> dict:
    view = {"id": key.id, "key_id": key.key_id, "name": key.name, "role": key.role,
            "store": key.store.code if key.store else None, "rate_per_minute": key.rate_per_minute,
            "created_at": key.created_at, "rotated_at": key.rotated_at, "revoked_at": key.revoked_at,
            "previous_valid_until": key.previous_valid_until}
    if secret is not None:
        view["secret"] = secret
    return view


def _audit_view(key: ApiKey) -> dict:
    view = _view(key)
    view.pop("id")
    return view


def create(name: str, role: str, store: str | None, rate_per_minute: int | None = None, *,
           audited: bool = True) -> dict:
    """A new key; its secret is in this answer and never again."""
    if role not in STORE_ROLES:
        raise ValidationError("role", f"One of {', '.join(STORE_ROLES)}.")
    key = ApiKey(key_id="pk_" + random.token_hex(12), name=name, role=role, store_id=_store_id(store),
                 salt=secrets.new_salt(),
                 rate_per_minute=rate_per_minute or current_app.config["API_KEY_RATE_PER_MINUTE"])
    db.session.add(key)
    db.session.flush()
    if audited:
        audit.record("api_key.create", "api_key", key.id, None, _audit_view(key))
    db.session.commit()
    return _view(key, _secret(key.salt))


def _get(key_id: int, *, lock: bool = False) -> ApiKey:
    key = db.session.get(ApiKey, key_id, with_for_update=lock)
    if key is None:
        raise NotFound("No such API key.")
    return key


def get(key_id: int) -> dict:
    return _view(_get(key_id))


def listing(limit: int, cursor: str | None) -> dict:
    page = keyset_page(select(ApiKey), ApiKey.id, limit, cursor)
    return {"items": [_view(key) for key in page["items"]], "next_cursor": page["next_cursor"]}


def rotate(key_id: int, grace_hours: int) -> dict:
    """A new secret; the one before stays valid for `grace_hours` (0: at once invalid) so the POS fleet can
    be moved over without a minute of refused sales. A second rotation within the grace ends the first's."""
    key = _get(key_id, lock=True)
    if key.revoked_at is not None:
        raise Conflict("This key is revoked.", code="api_key_revoked")
    before = _audit_view(key)
    now = clock.now()
    key.previous_salt, key.salt = key.salt, secrets.new_salt()
    key.previous_valid_until = now + timedelta(hours=grace_hours)
    key.rotated_at = now
    audit.record("api_key.rotate", "api_key", key.id, before, _audit_view(key))
    db.session.commit()
    return _view(key, _secret(key.salt))


def revoke(key_id: int) -> dict:
    """Stop the key at once (both secrets); revoking twice changes nothing."""
    key = _get(key_id, lock=True)
    if key.revoked_at is None:
        before = _audit_view(key)
        key.revoked_at = clock.now()
        audit.record("api_key.revoke", "api_key", key.id, before, _audit_view(key))
        db.session.commit()
    return _view(key)


# --- checking a signed request ------------------------------------------------------------------------

_BY_KEY_ID = select(ApiKey.id, ApiKey.name, ApiKey.role, ApiKey.store_id, ApiKey.salt, ApiKey.previous_salt,
                    ApiKey.previous_valid_until, ApiKey.rate_per_minute, ApiKey.revoked_at).where(
    ApiKey.key_id == bindparam("key_id"))
_STORE = select(Store.id, Store.code).where(Store.code == bindparam("code"), Store.active.is_(True))


def _refused(code: str, message: str) -> Unauthorized:
    return Unauthorized(message, code=code)


def _signed_path() -> str:
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


def _matches(salts: list[str], method: str, path: str, body: bytes, timestamp: str, nonce: str, sent: str) -> bool:
    return any(hmac.compare_digest(signing.signature(_secret(salt), method, path, body, timestamp, nonce), sent)
               for salt in salts)


def _throttle(key_id: int, per_minute: int) -> None:
    minute = int(clock.now().timestamp()) // 60
    name = f"loyalty:api-key-rate:{key_id}:{minute}"
    pipe = get_redis().pipeline()
    pipe.incr(name)
    pipe.expire(name, 120)
    calls = pipe.execute()[0]
    if calls > per_minute:
        raise ApiError(f"This key may make {per_minute} calls a minute.", code="rate_limited", status=429)


def _store_of(key_store_id: int | None) -> int:
    code = request.headers.get(signing.STORE_HEADER)
    if code is None:
        if key_store_id is None:
            raise Forbidden("A key of every store names the store in X-Store.", code="store_header_required")
        return key_store_id
    row = db.session.execute(_STORE, {"code": code[:32]}).first()
    if row is None:
        raise Forbidden(f"No open store {code[:32]}.", code="unknown_store")
    if key_store_id is not None and row.id != key_store_id:
        raise Forbidden("This key belongs to another store.", code="wrong_store")
    return row.id


def verify_request() -> Identity:
    """The caller of a signed request, or the refusal (module docstring)."""
    headers = request.headers
    missing = [name for name in signing.HEADERS if not headers.get(name)]
    if missing:
        raise Unauthorized("A signed request sends " + ", ".join(signing.HEADERS) + ".", code="missing_signature",
                           fields={name: ["Missing."] for name in missing})
    key_id, timestamp = headers[signing.KEY_HEADER], headers[signing.TIMESTAMP_HEADER]
    nonce, sent = headers[signing.NONCE_HEADER], headers[signing.SIGNATURE_HEADER]
    now = clock.now()
    if not TIMESTAMP.fullmatch(timestamp) or abs(int(timestamp) - now.timestamp()) > SIGNATURE_WINDOW:
        raise _refused("stale_timestamp", f"X-Timestamp must be Unix seconds within {SIGNATURE_WINDOW} s of "
                                          f"the server's clock ({int(now.timestamp())}).")
    if not NONCE.fullmatch(nonce):
        raise _refused("bad_nonce", "X-Nonce: 16-64 letters, digits, _ or -, new for every request.")
    key = db.session.execute(_BY_KEY_ID, {"key_id": key_id}).first() if KEY_ID.fullmatch(key_id) else None
    if key is None:
        raise _refused("unknown_api_key", "No such API key.")
    if key.revoked_at is not None:
        raise _refused("api_key_revoked", "This API key is revoked.")
    salts = [key.salt]
    if key.previous_salt and key.previous_valid_until and now < key.previous_valid_until:
        salts.append(key.previous_salt)
    if not _matches(salts, request.method, _signed_path(), request.get_data(cache=True), timestamp, nonce,
                    sent.lower()):
        raise _refused("bad_signature", "The signature does not match this request and key.")
    if not get_redis().set(f"loyalty:api-key-nonce:{key.id}:{nonce}", "1", nx=True, ex=2 * SIGNATURE_WINDOW):
        raise _refused("nonce_reused", "This nonce was used already: a replay is refused.")
    _throttle(key.id, key.rate_per_minute)
    g.api_key_name = key.name
    return Identity("api_key", key.id, key.role, _store_of(key.store_id))


verify_signed_requests_with(signing.KEY_HEADER, verify_request)


def record_call(response):
    """Every call of a key in the audit log (after_request): who, which route, with what outcome. The writes
    the call made are audited by their services with the same actor and request id."""
    identity = g.get("identity")
    if identity is None or identity.kind != "api_key":
        return response
    if response.status_code >= 500:  # an unexpected error may have left the session's transaction broken
        db.session.rollback()
    audit.record("api_key.call", "api_key", identity.id, None,
                 {"method": request.method, "path": request.path, "status": response.status_code,
                  "store_id": identity.store_id})
    db.session.commit()
    return response
