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
