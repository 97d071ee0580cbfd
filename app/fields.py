"""Marshmallow fields and limits shared by every domain's schemas: money and points are ints, codes are plain."""
from __future__ import annotations

import copy
from datetime import date

import flask_smorest.fields
from marshmallow import Schema, ValidationError, fields, missing, validate
from werkzeug.datastructures import FileStorage

from app import clock

MAX_FEN = 100_000_000
MAX_POINTS = 100_000_000
# Every id column is an INTEGER (PostgreSQL int4). A bigger number names nothing, and a statement comparing an
# id with it is refused by PostgreSQL (from 2**31) or by SQLite's driver (from 2**63): a 500, not a 404.
MAX_ID = 2**31 - 1


class StrictInt(fields.Integer):
    """An int and nothing else: no floats, strings or booleans near money and points."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)  # marshmallow already refuses booleans


class Id(fields.Integer):
    """A row id (1..MAX_ID), the one field every id in a body or a query string uses, so no id out of the
    columns' range reaches a statement. Strict (an int, not "12") in JSON; pass strict=False in a query
    string, where every value is text."""

    def __init__(self, *, strict: bool = True, **kwargs):
        extra = kwargs.pop("validate", None)
        extra = [] if extra is None else list(extra) if isinstance(extra, list | tuple) else [extra]
        super().__init__(strict=strict, validate=[validate.Range(min=1, max=MAX_ID), *extra], **kwargs)


def code(length: int = 64):
    """A business code (SKU, order number): plain ASCII, so look-alike characters cannot make a second one."""
    return validate.And(validate.Length(min=1, max=length),
                        validate.Regexp(r"^[A-Za-z0-9._:\-]+$", error="Letters, digits and . _ : - only."))


class DayOrMoment(fields.AwareDateTime):
    """A moment with its offset, or a plain business day: the start of that day (`edge="start"`) or its
    end (`edge="end"`, exclusive), in the business time zone. Marketing types dates, not instants."""

    def __init__(self, edge: str = "start", **kwargs):
        super().__init__(default_timezone=None, **kwargs)
        self.edge = edge

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and len(value) == 10:
            try:
                day = date.fromisoformat(value)
            except ValueError:
                raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None
            return clock.start_of_business_day(day) if self.edge == "start" else clock.end_of_business_day(day)
        return super()._deserialize(value, attr, data, **kwargs)


class Upload(flask_smorest.fields.Upload):
    """A file of a multipart body (documented as a binary string); a text value under the file's name is refused
    here, not met later as a string where the route expects a file."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, FileStorage):
            raise ValidationError("Must be a file.")
        return value


def patch_of(schema: type[Schema], name: str, exclude: tuple[str, ...] = ()) -> type[Schema]:
    """The PATCH schema of a create schema: the same fields, validators and checks, none required and none with
    a default. A PATCH changes the fields it names and keeps the others: a `load_default` would be advertised in
    the OpenAPI document as what an omitted field becomes, which is false for a PATCH. Unlike `partial=True`,
    an object given whole (a reward, a cap) is still checked whole, its own required fields included."""
    declared = {}
    for attr, field in schema._declared_fields.items():
        if attr in exclude:
            continue
        optional = copy.deepcopy(field)
        optional.required = False
        optional.load_default = missing
        declared[attr] = optional
    meta = type("Meta", (getattr(schema, "Meta", object),), {"exclude": exclude})
    doc = f"PATCH of {schema.__name__}: any subset of its fields" + (f" but {', '.join(exclude)}." if exclude else ".")
    return type(name, (schema,), {**declared, "Meta": meta, "__doc__": doc})
