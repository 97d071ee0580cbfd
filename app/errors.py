"""One error envelope for the whole API: {"error": {"code", "message", "fields"?}}.

Services raise `ApiError` subclasses; flask-smorest/webargs validation errors, werkzeug HTTP errors and
unexpected exceptions are all translated here, so clients only ever parse one shape.
"""
from __future__ import annotations

import logging

from flask import Flask, g, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """A business error with an HTTP status, a stable machine code and an optional field map."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, code: str | None = None, fields: dict | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.fields = fields
        self.status = status or self.status


class ValidationError(ApiError):
    status, code = 422, "validation_error"

    def __init__(self, field: str, reason: str, code: str | None = None):
        super().__init__(f"{field}: {reason}", code=code, fields={field: [reason]})


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class ServiceUnavailable(ApiError):
    status, code = 503, "service_unavailable"


def envelope(status: int, code: str, message: str, fields: dict | None = None):
    body: dict = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    response = jsonify({"error": body})
    response.status_code = status
    return response


def _flatten(messages, prefix: str = "") -> dict[str, list[str]]:
    """webargs nests errors by location and by list index; clients want `items.0.qty: [...]`."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, name))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "_schema"] = list(messages)
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            out.update(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out[prefix or "_schema"] = [str(messages)]
    return out


def http_exception_response(error: HTTPException):
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if status == 422 and messages:
        fields: dict[str, list[str]] = {}
        for location_messages in messages.values():  # drop the location level: json/query/headers
            fields.update(_flatten(location_messages))
        first = next(iter(fields.items()))
        return envelope(422, "validation_error", f"{first[0]}: {first[1][0]}", fields)
    if status == 400 and messages:
        return envelope(400, "malformed_json", "The request body is not valid JSON.")
    if status == 429:
        return envelope(429, "rate_limited", "Too many requests; slow down and retry later.")
    message = data.get("message") or error.description or HTTP_CODES.get(status, "error")
    return envelope(status, HTTP_CODES.get(status, "error"), message)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return envelope(error.status, error.code, error.message, error.fields)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        return http_exception_response(error)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return http_exception_response(error)
        log.exception("unhandled error (request %s)", getattr(g, "request_id", "-"))
        return envelope(500, "internal_error", f"Internal error; request id {getattr(g, 'request_id', '-')}.")
