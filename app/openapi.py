"""How the served OpenAPI document describes the API: the real error envelope and multipart bodies.

flask-smorest documents every error response (`default` on each operation, 422 on each `arguments`) with its
own error shape; this API answers errors with `{"error": {"code", "message", "fields"?}}` (app/errors.py), so
clients and contract tests checking responses against the document would reject every 4xx. `Api` swaps the
documented error schema once, for every operation.

flask-smorest documents one request body per operation: a route that took its multipart text fields
(`location="form"`) and its file (`location="files"`) from two `arguments` got the text fields as
`in: formData` parameters, which exist in Swagger 2 only and make the document invalid OpenAPI 3. `Blueprint`
adds the `multipart` location: the text fields and the files of a `multipart/form-data` body loaded by one
schema, documented as that one request body.
"""
from __future__ import annotations

import flask_smorest
from marshmallow import Schema, fields
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from app.errors import HTTP_CODES


class ErrorBody(Schema):
    code = fields.String(required=True, metadata={
        "description": "stable machine code: " + ", ".join(sorted(set(HTTP_CODES.values())))
        + ", or a business code such as `insufficient_points`"})
    message = fields.String(required=True, metadata={"description": "for people; may change"})
    field_reasons = fields.Dict(data_key="fields", keys=fields.String(), values=fields.List(fields.String()), metadata={
        "description": "per field (dotted path into the body or query), its reasons; only on bad input"})


class ErrorEnvelope(Schema):
    """The one shape of every error answer (app/errors.py)."""

    error = fields.Nested(ErrorBody, required=True)


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorEnvelope


class MultipartParser(FlaskParser):
    """webargs' Flask parser plus the `multipart` location (the form's text fields and its files together)."""

    __location_map__ = {**FlaskParser.__location_map__, "multipart": "load_multipart"}
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "multipart": None}  # schema's RAISE

    def load_multipart(self, req, schema: Schema):
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)


class Blueprint(flask_smorest.Blueprint):
    """A flask-smorest blueprint whose `arguments` also take `location="multipart"` (see the module's docstring);
    used by the routes that accept an upload."""

    ARGUMENTS_PARSER = MultipartParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {**flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
                                             "multipart": "multipart/form-data"}
