"""The SQL statements a block of test code sends, for tests about the shape or the number of statements."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from app.extensions import db


@contextmanager
def statements() -> Iterator[list[str]]:
    """The statements sent, but for a transaction's BEGIN: SQLAlchemy sends it itself on SQLite
    (app/extensions.py), where psycopg sends it unseen on PostgreSQL; counts are the same on both."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        if statement != "BEGIN IMMEDIATE":
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
