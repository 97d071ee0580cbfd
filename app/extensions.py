"""Extension objects, created unbound and bound to the app in `create_app` (microblog's pattern)."""
from __future__ import annotations

from flask import request
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
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
    """SQLite (embedded mode) shared by gunicorn and RQ workers: WAL, a busy timeout, enforced foreign keys.

    pysqlite keeps its own transaction handling: reads outside a write hold no snapshot, so a request that
    reads and then writes waits for other writers (busy timeout) instead of failing with SQLITE_BUSY. The
    price is that a SAVEPOINT opened before the transaction's first write commits on release; code that
    nests a savepoint on SQLite must have written first (see coupons.issuing.grant).
    """
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
