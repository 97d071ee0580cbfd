"""What a request may carry before any domain sees it: the checks no route should have to repeat.

Each of these once gave a 500 (an exception no handler expected, or a statement the database refused):

- JSON bodies, on every route (the unauthenticated logins too), are parsed here first, before the rate
  limiter's key and the routes' schemas read them: broken JSON, nesting deeper than MAX_JSON_DEPTH (1,000
  levels raised RecursionError) and an integer of 4,300+ digits (Python refuses to parse it) are 400
  `malformed_json`. (webargs parses the same bytes again, known to be sound by then: a few microseconds.)
- A NUL or a lone UTF-16 surrogate in any text (JSON keys and strings, query args, path parameters) is 422
  `invalid_characters`: PostgreSQL cannot store or compare either, and no legitimate client sends them.
- `<int:...>` in a route is an id: ASCII digits, 1..MAX_ID (the INTEGER columns' range), else the URL
  matches nothing (404).
- A body is at most MAX_CONTENT_LENGTH bytes (413); a view that takes more says so with `body_limit`.
- X-Request-ID is echoed and written to the audit log (64 characters): a client's id is kept only when it
  is short and plain.
"""
from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import flask
from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

from app.errors import ApiError
from app.fields import MAX_ID

MAX_JSON_DEPTH = 32  # the deepest body the API takes (a tier's benefit table) is 4 levels
REQUEST_ID_LENGTH = 64  # audit_log.request_id
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]+")


def invalid_characters(field: str) -> ApiError:
    reason = "Must not contain a NUL character or a lone UTF-16 surrogate."
    field = _BAD_TEXT.sub("\ufffd", field)  # a bad name is not echoed as it came
    return ApiError(f"{field}: {reason}", code="invalid_characters", fields={field: [reason]}, status=422)


def malformed_json(reason: object) -> ApiError:
    return ApiError(f"The request body is not valid JSON: {reason}.", code="malformed_json", status=400)


def check_json(value: Any) -> None:
    """Walk a parsed JSON body without recursion: too deep is 400 `malformed_json`, a bad character in a key
    or a string is 422 `invalid_characters`."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, str):
            if _BAD_TEXT.search(node):
                raise invalid_characters(path or "_schema")
            continue
        if not isinstance(node, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise malformed_json(f"nested deeper than {MAX_JSON_DEPTH} levels")
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, item in items:
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _BAD_TEXT.search(key):
                raise invalid_characters(path or "_schema")
            stack.append((item, depth + 1, name))


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, whose `loads` fails as werkzeug expects (ValueError) when the nesting is too deep for
    Python's parser: RecursionError went past `get_json(silent=True)` (the login rate limit's key) as a 500."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return json.loads(s, **kwargs)
        except RecursionError:  # the C scanner gives up around 1,000 levels
            raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None


class Request(flask.Request):
    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        """Unreadable JSON is the API's envelope, saying why (werkzeug's BadRequest says nothing)."""
        if e is None:  # not a JSON content type: werkzeug's 415
            return super().on_json_loading_failed(e)
        raise malformed_json(e)


class IdConverter(IntegerConverter):
    """`<int:...>`: ASCII digits only (werkzeug's `\\d` takes any script's digits) and no bigger than MAX_ID,
    so an id out of range is a URL that matches nothing rather than a statement the database refuses."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = 1, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def request_id(header: str | None) -> str:
    """The client's X-Request-ID when it is plain (letters, digits, . _ : -), cut to the audit column's
    length; anything else is replaced by a fresh id rather than breaking every audited write."""
    if header and _REQUEST_ID.fullmatch(header):
        return header[:REQUEST_ID_LENGTH]
    return uuid.uuid4().hex


def _check_request() -> None:
    """Path parameters, query args and a JSON body, before the limiter's key and the route read them."""
    if request.routing_exception is not None:  # 404 / 405: nothing will read the input
        return
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and _BAD_TEXT.search(value):
            raise invalid_characters(name)
    for name, values in request.args.lists():
        if _BAD_TEXT.search(name) or any(_BAD_TEXT.search(value) for value in values):
            raise invalid_characters(name)
    if request.is_json and request.get_data(cache=True):  # an empty body is left to the schema (required fields)
        check_json(request.get_json())  # cached: the login limiter's key reads this document


def body_limit(max_bytes: int) -> Callable[[Callable], Callable]:
    """Let one view take a bigger body than MAX_CONTENT_LENGTH (an upload); put it above the view's
    argument decorators, which read the body."""

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            request.max_content_length = max_bytes
            return func(*args, **kwargs)

        wrapper.max_body_bytes = max_bytes  # read by hooks that parse the body before the view (the console's CSRF)
        return wrapper

    return decorate


def init_app(app: Flask) -> None:
    """Before any route is added (the converter applies to rules as they are added) and before the
    rate limiter (whose login key reads the body)."""
    app.request_class = Request
    app.json = JSONProvider(app)
    app.url_map.converters["int"] = IdConverter
    app.before_request(_check_request)
