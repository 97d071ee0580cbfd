"""Keyset pagination: `?limit=&cursor=` in, `{items, next_cursor}` out (API.md).

The cursor is an opaque base64 of the last row's key, so a page costs one index range scan however
deep the client scrolls (OFFSET would re-read every skipped row).
"""
from __future__ import annotations

import base64
import json

from marshmallow import Schema, fields, validate
from sqlalchemy import Select

from app.errors import ValidationError
from app.extensions import db
from app.fields import MAX_ID


class ListArgs(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(load_default=None)


MAX_CURSOR_LENGTH = 16  # the base64 of the biggest id is 14 characters


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor of ours carries, or 422 `bad_cursor`: the one rule for every list. Anything else a
    client makes up (a huge number the database would refuse, `true`, 1,000 nested lists) never reaches
    a statement."""
    bad = ValidationError("cursor", "Not a cursor this API issued.", code="bad_cursor")
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_LENGTH:
        raise bad
    try:
        last_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise bad from None
    if type(last_id) is not int or not 0 <= last_id <= MAX_ID:
        raise bad
    return last_id


def keyset_page(stmt: Select, id_column, limit: int, cursor: str | None, newest_first: bool = True) -> dict:
    """Page `stmt` by a unique integer id column; returns {items, next_cursor}."""
    if cursor:
        last_id = decode_cursor(cursor)
        stmt = stmt.where(id_column < last_id if newest_first else id_column > last_id)
    stmt = stmt.order_by(id_column.desc() if newest_first else id_column.asc()).limit(limit + 1)
    rows = list(db.session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor(getattr(rows[-1], id_column.key)) if more else None}


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """The `{items, next_cursor}` envelope for one item schema."""
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item_schema)), "next_cursor": fields.String(allow_none=True)},
        name=name,
    )


__all__ = ["ListArgs", "keyset_page", "page_schema", "encode_cursor", "decode_cursor"]
