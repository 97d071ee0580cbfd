"""The unit of work a service wraps its writes in."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

from app.extensions import db


@contextlib.contextmanager
def atomic() -> Iterator[None]:
    """Commit once at the end, or roll everything back: a refused operation must never leave half-written
    rows in the session for a later commit to pick up (tests share one session across requests)."""
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def end_read_only() -> None:
    """End a transaction that only read with COMMIT rather than ROLLBACK: for a transaction that wrote nothing
    the outcome is the same, but psycopg 3 answers a ROLLBACK by deallocating every prepared statement of the
    connection, so a quote before each purchase made PostgreSQL parse and plan all of the purchase's statements
    again (bench/README.md). An object changed in the session is a bug in the caller: rolled back, and raised."""
    session = db.session
    if session.new or session.dirty or session.deleted:
        session.rollback()
        raise RuntimeError("a read-only transaction holds changes; they were rolled back")
    session.commit()
