"""The ORM shortcuts the till's hot path takes, in one place.

A purchase writes its ledger entry, lot, account and growth with Core statements built once, not through the
unit of work: a flush was most of a small credit's CPU (bench/README.md). The objects the rest of the
request reads must still tell the truth, so after a Core write the session is told what was written:

- `adopt`: a row a Core INSERT just wrote becomes a persistent object of the session, without a SELECT;
- `mark_written`: an object's attributes whose values a Core UPDATE just wrote are clean again, so no flush
  writes them a second time;
- `in_session`: the object this session already holds for a primary key, or None, without a query.

Every caller names the columns it writes from the table itself or from a tuple checked against the table
by tests/test_fast_writes.py, so a column added to a model cannot be silently left out of a fast path.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.extensions import db


def in_session(model: type, key: Any):
    return db.session.identity_map.get(identity_key(model, key))


def adopt(obj) -> None:
    """`obj` carries the primary key its row was inserted with (by a Core INSERT .. RETURNING)."""
    make_transient_to_detached(obj)
    db.session.add(obj)


def mark_written(obj, names: Iterable[str], values: dict | None = None) -> None:
    """The attributes `names` of `obj` hold what is in the database now (`values`, or their current values)."""
    for name in names:
        set_committed_value(obj, name, getattr(obj, name) if values is None else values[name])


def insert_columns(table) -> tuple[str, ...]:
    """Every column a Core INSERT of a new row must carry: all but the generated primary key."""
    return tuple(c.key for c in table.columns if not (c.primary_key and c.autoincrement is not False))
