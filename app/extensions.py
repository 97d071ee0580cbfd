"""Extension objects, created unbound and bound to the app in `create_app` (microblog's pattern)."""
from __future__ import annotations

from flask import request
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase

from app.auth import current_identity_key
from app.openapi import Api

# Deterministic constraint names so Alembic revisions are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def client_address() -> str:
    """The caller's address: the peer, or what `TRUSTED_PROXIES` proxies in front of us said it was (ProxyFix in
    create_app). Behind an unconfigured proxy every client would share the proxy's address, and one abuser would
    rate-limit them all."""
    return request.remote_addr or "anonymous"


def _limiter_key() -> str:
    """Rate limits are per identity when a token is present, else per client address."""

    return current_identity_key() or client_address()


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = Api()  # app.openapi.Api: the error envelope documented for every operation
limiter = Limiter(key_func=_limiter_key)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """SQLite (embedded mode) shared by gunicorn and RQ workers: WAL, a busy timeout, enforced foreign keys,
    and pysqlite's own transaction handling switched off (`_sqlite_begin` emits the BEGIN instead).

    pysqlite would begin a transaction only at the first INSERT/UPDATE/DELETE: the reads before it ran outside
    any transaction and took no lock (FOR UPDATE is a no-op on SQLite), so two requests could both read a
    balance or a stock count and then both write (issue 14), and a SAVEPOINT opened before the first write
    committed on release. With the BEGIN ours, savepoints nest in the transaction as on PostgreSQL.
    """
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.isolation_level = None  # SQLAlchemy's recipe: pysqlite emits no BEGIN of its own
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn: Connection) -> None:
    """Every SQLite transaction takes the database's write lock at its BEGIN (BEGIN IMMEDIATE).

    SQLite has one writer at a time and no FOR UPDATE: holding the write lock from a transaction's first
    statement stands in for PostgreSQL's row locks, so what a transaction has read stays true until it commits.
    A plain (deferred) BEGIN would not do: a transaction that read, then writes after another writer committed,
    fails at once with SQLITE_BUSY instead of waiting. The price: a transaction that only reads waits for the
    writer before it (up to the busy timeout) and holds later ones off until it ends, so a thread must not wait
    on a second connection of its own while its session's transaction is open (app/jobs.py, job_runs).
    Connections in SQLAlchemy's AUTOCOMMIT isolation level get no BEGIN.
    """
    if conn.dialect.name == "sqlite" and conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
