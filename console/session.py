"""Console sign-in: a signed session cookie that holds the operator id and the time of the last request.

Every request re-reads the operator (a disabled account's session stops at once, and a changed role or
store takes effect at once) and ends a session idle for longer than PERMANENT_SESSION_LIFETIME, measured on
app.clock (so tests can move it). Signed in, the request carries the same Identity a bearer token gives the
API, so the services and the audit log see the operator the same way. CSRF is checked on every POST of the
console only: the JSON API authenticates by bearer token, which a cross-site form cannot send.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

from flask import current_app, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFProtect

from app import clock
from app.auth import Identity
from app.operators import service as operators
from app.operators.models import Operator

csrf = CSRFProtect()  # bound in server.create_app; WTF_CSRF_CHECK_DEFAULT is off, protect() runs here

OPERATOR_KEY = "operator_id"
SEEN_KEY = "seen"


def sign_in(operator: Operator) -> None:
    """A fresh session for this operator (cleared first: no state survives from before the sign-in)."""
    session.clear()
    session.permanent = True
    session[OPERATOR_KEY] = operator.id
    session[SEEN_KEY] = clock.now().timestamp()


def sign_out() -> None:
    session.clear()


def load() -> None:
    """before_request of the console: CSRF on POST, then the signed-in operator (or None) in g.operator."""
    for name in ("csrf_token", "session_expired"):  # per request: an app context can outlive one (tests)
        g.pop(name, None)
    if request.method == "POST":
        # An upload page (app.inbound.body_limit) takes a bigger body: the CSRF check reads the form first.
        limit = getattr(current_app.view_functions.get(request.endpoint), "max_body_bytes", None)
        if limit:
            request.max_content_length = limit
        csrf.protect()
    g.operator = None
    operator_id = session.get(OPERATOR_KEY)
    if operator_id is None:
        return
    now = clock.now().timestamp()
    idle = current_app.permanent_session_lifetime.total_seconds()
    if now - float(session.get(SEEN_KEY, 0)) > idle:
        session.clear()
        g.session_expired = True
        return
    operator = operators.active_operator(int(operator_id))
    if operator is None:
        session.clear()
        return
    session[SEEN_KEY] = now  # the idle timeout counts from the last request
    g.operator = operator
    g.identity = Identity("operator", operator.id, operator.role, operator.store_id)


def requires(*roles: str) -> Callable[[Callable], Callable]:
    """The page needs a signed-in operator with one of `roles` (any role when none are named): signed out,
    the browser goes to the sign-in page; signed in with another role, 403."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            operator = g.get("operator")
            if operator is None:
                if request.headers.get("HX-Request"):  # an htmx swap cannot follow a redirect into a fragment
                    return "", 401, {"HX-Redirect": url_for("console.login")}
                return redirect(url_for("console.login", next=request.full_path if request.method == "GET" else None))
            if roles and operator.role not in roles:
                return render_template("console/error.html", message_code="forbidden"), 403
            return view(*args, **kwargs)

        return wrapper

    return decorate
