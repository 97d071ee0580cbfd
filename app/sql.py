"""SQL that differs by dialect, written once."""
from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db


def insert_ignore(table: Table):
    """INSERT ... ON CONFLICT DO NOTHING (PostgreSQL and SQLite): create-if-missing without a race."""
    construct = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return construct(table).on_conflict_do_nothing()
