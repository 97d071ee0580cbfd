"""`flask db upgrade` on an empty database gives exactly the models' schema (SQLite and PostgreSQL)."""
from __future__ import annotations

import os
import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from config import database_url
from tests.conftest import ON_POSTGRES


def _fresh_database_url(tmp_path) -> tuple[str, callable]:
    if not ON_POSTGRES:
        return f"sqlite:///{tmp_path / 'migrated.sqlite'}", lambda: None
    base = make_url(database_url(os.environ["TEST_DATABASE_URL"]))
    name = f"{base.database}_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def test_upgrade_gives_the_models_schema(tmp_path, app):
    url, drop = _fresh_database_url(tmp_path)
    try:
        migrated = create_app("test", {"SQLALCHEMY_DATABASE_URI": url, "DEMO_DIR": app.config["DEMO_DIR"],
                                       "REDIS_URL": app.config["REDIS_URL"]})
        with migrated.app_context():
            upgrade()
            with db.engine.connect() as conn:
                diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
            tables = set(db.inspect(db.engine).get_table_names())
            db.engine.dispose()
        assert diff == [], f"migrations and models disagree: {diff}"
        assert {t.name for t in db.metadata.sorted_tables} <= tables
    finally:
        drop()
