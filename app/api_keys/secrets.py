"""Secrets derived from the server's integration secret and a stored salt (HMAC-SHA256), never stored.

An API key's secret and a webhook endpoint's signing secret must both be known to the server (it checks or
makes an HMAC with them), so a one-way hash of them, as for passwords, cannot be kept. Instead each row keeps
a random salt and the secret is HMAC(INTEGRATION_SECRET, purpose + salt): shown once when made, re-derived
when needed, and a dump of the database alone gives nobody a secret. Changing INTEGRATION_SECRET
invalidates every key and webhook secret at once (the way to recover from its leak).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets as random

from flask import current_app


def new_salt() -> str:
    return random.token_hex(16)


def derive(purpose: str, salt: str, prefix: str) -> str:
    """The secret of `purpose` ("api-key", "webhook") for this salt, as the client is given it."""
    master = (current_app.config.get("INTEGRATION_SECRET") or current_app.config["SECRET_KEY"]).encode()
    return prefix + hmac.new(master, f"{purpose}:{salt}".encode(), hashlib.sha256).hexdigest()
