"""Writes whose answer nobody reads, sent together: psycopg 3's pipeline mode for a transaction's hot path
(PostgreSQL; on SQLite the block changes nothing).

A till purchase sent each of its statements and waited for its answer: 15 round trips, each costing a wake-up
and a message cycle on both sides, and holding the member's locks a little longer. Inside `pipelined()` a
statement marked with `queued(...)` (an INSERT or UPDATE whose rows and row count nobody reads) is not waited
for: it travels with the next statement that needs an answer, or with the block's end. Every other statement
is answered at once, as outside the block (rows, row count, errors), so code that knows nothing about the
pipeline (an event receiver, a coupon's conditional UPDATE reading its row count) behaves as it always did.
A queued statement that fails raises at the next answer: the caller's transaction is rolled back whole, as for
any failure of a purchase.

The block must end before the transaction does: a commit returns the connection to the pool, and another
thread may take it at once, so the pipeline is left (its queue answered) first.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Insert, event
from sqlalchemy.engine import Engine

from app.extensions import db

_OPTION = "pipeline_queued"
_INFO = "pipeline"  # the connection's info (kept with the DBAPI connection): its open psycopg Pipeline
Statement = TypeVar("Statement")


def queued(statement: Statement) -> Statement:
    """The statement, marked as one whose answer nobody reads (sent with the next answered statement). An
    INSERT is made `inline`: SQLAlchemy would otherwise ask a one-row INSERT for its new primary key
    (RETURNING id) and read the answer at once."""
    if isinstance(statement, Insert):
        statement = statement.inline()
    return statement.execution_options(**{_OPTION: True})


@contextmanager
def pipelined() -> Iterator[None]:
    """Run the block's statements on the session's connection in pipeline mode (see the module's doc)."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        yield
        return
    info = connection.connection.info
    with connection.connection.driver_connection.pipeline() as pipe:
        info[_INFO] = pipe
        try:
            yield
        finally:
            info.pop(_INFO, None)


@event.listens_for(Engine, "after_cursor_execute")
def _answer_now(conn, cursor, statement, parameters, context, executemany) -> None:
    """Every engine's, from the start (a listener added to an engine later is not seen by connections it
    has already opened)."""
    pipe = conn.connection.info.get(_INFO)
    if pipe is not None and not context.execution_options.get(_OPTION):
        pipe.sync()  # send what is queued with this statement and wait: its rows and row count are read next
