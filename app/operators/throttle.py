"""The throttles of an operator's sign-in, one pair of counters for the API's login and the console's.

Failed attempts only (a success costs nothing), counted per client address and username (guessing one
account from one place) and per client address (one place going through many usernames): 429 past either.
Never per username alone, or anyone could lock a clerk out of their own till.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import current_app

from app.extensions import client_address, limiter

ACCOUNT_SCOPE = "operator-login-account"
CLIENT_SCOPE = "operator-login-client"


def _failed(response) -> bool:
    return response.status_code == 401


def sign_in_throttled(username_of: Callable[[], object]) -> Callable:
    """Decorate a sign-in view; `username_of()` reads the username the request tries (JSON body or form)."""

    def account_key() -> str:
        name = username_of()
        return f"{client_address()}:{name if isinstance(name, str) else '-'}"

    per_account = limiter.shared_limit(lambda: current_app.config["OPERATOR_LOGIN_FAILURES_PER_ACCOUNT"],
                                       scope=ACCOUNT_SCOPE, key_func=account_key, deduct_when=_failed,
                                       methods=["POST"])
    per_client = limiter.shared_limit(lambda: current_app.config["OPERATOR_LOGIN_FAILURES_PER_CLIENT"],
                                      scope=CLIENT_SCOPE, key_func=client_address, deduct_when=_failed,
                                      methods=["POST"])
    return lambda view: per_account(per_client(view))
