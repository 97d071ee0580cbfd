"""How a request is signed with an API key (docs/pos_api_keys.md shows a client doing it).

The signature is HMAC-SHA256, keyed by the key's secret, over five lines joined by "\n":
the method in capitals, the path with its query string ("/api/v1/pos/purchases", "...?limit=5"), the
SHA-256 hex digest of the body bytes (of b"" when there is none), the Unix timestamp in seconds and the nonce.
It travels in four headers. Pure functions: the server's check and any client share them.
"""
from __future__ import annotations

import hashlib
import hmac

KEY_HEADER = "X-Api-Key"
TIMESTAMP_HEADER = "X-Timestamp"
NONCE_HEADER = "X-Nonce"
SIGNATURE_HEADER = "X-Signature"
STORE_HEADER = "X-Store"  # the store code, for a key of every store
HEADERS = (KEY_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)


def string_to_sign(method: str, path: str, body: bytes, timestamp: str, nonce: str) -> bytes:
    return "\n".join((method.upper(), path, hashlib.sha256(body).hexdigest(), timestamp, nonce)).encode()


def signature(secret: str, method: str, path: str, body: bytes, timestamp: str, nonce: str) -> str:
    return hmac.new(secret.encode(), string_to_sign(method, path, body, timestamp, nonce), hashlib.sha256).hexdigest()


def signed_headers(key_id: str, secret: str, method: str, path: str, body: bytes, timestamp: int,
                   nonce: str) -> dict[str, str]:
    """The four headers of a signed request."""
    return {KEY_HEADER: key_id, TIMESTAMP_HEADER: str(timestamp), NONCE_HEADER: nonce,
            SIGNATURE_HEADER: signature(secret, method, path, body, str(timestamp), nonce)}
