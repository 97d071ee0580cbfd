"""`flask db upgrade` on an empty database gives exactly the models' schema (SQLite and PostgreSQL)."""
from __future__ import annotations

import json
import os
import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.extensions import db
from config import database_url
from server import create_app
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


def _row(table, **values) -> dict:
    """A row for a raw INSERT: `values`, and a plain value for every other required column."""
    from datetime import UTC, date, datetime

    plain = {int: 0, str: "x", bool: False, datetime: datetime(2026, 1, 1, tzinfo=UTC), date: date(2026, 1, 1),
             dict: {}, list: []}
    def kind(column) -> type:
        try:
            return column.type.python_type
        except NotImplementedError:  # a TypeDecorator of ours: its implementation's type
            return column.type.impl_instance.python_type

    row = dict(values)
    for column in table.columns:
        if column.key in row or column.nullable or column.server_default is not None or column.autoincrement is True:
            continue
        if column.primary_key and kind(column) is int and len(table.primary_key.columns) == 1:
            continue
        row[column.key] = plain[kind(column)]
    return row


def test_purchase_count_is_backfilled_from_the_purchases(tmp_path, app):
    """0011 adds members.purchase_count: members who bought before the upgrade must not count as new buyers
    (the first-purchase task and the invite reward read it)."""
    from app.operators.models import Store
    from members.models import Member
    from till.models import Purchase

    url, drop = _fresh_database_url(tmp_path)
    try:
        migrated = create_app("test", {"SQLALCHEMY_DATABASE_URI": url, "DEMO_DIR": app.config["DEMO_DIR"],
                                       "REDIS_URL": app.config["REDIS_URL"]})
        with migrated.app_context():
            upgrade(revision="0010_lots_keyset")
            members = Member.__table__
            with db.engine.begin() as conn:  # raw INSERTs: the models' defaults name the column 0010 lacks
                for table, rows in (
                        (Store.__table__, [_row(Store.__table__, id=1, code="S1")]),
                        (members, [_row(members, id=i, invite_code=f"I{i}", gender=0, growth=0) for i in (1, 2, 3)]),
                        (Purchase.__table__, [_row(Purchase.__table__, store_id=1, order_no=f"O{n}", member_id=m)
                                              for n, m in enumerate((1, 1, 1, 2))])):
                    names = list(rows[0])
                    conn.execute(text(f"INSERT INTO {table.name} ({', '.join(names)}) "
                                      f"VALUES ({', '.join(':' + n for n in names)})"),
                                 [{n: (json.dumps(v) if isinstance(v, dict | list) else v) for n, v in row.items()}
                                  for row in rows])
            upgrade()
            with db.engine.connect() as conn:
                counts = dict(conn.execute(text("SELECT id, purchase_count FROM members ORDER BY id")).all())
            db.engine.dispose()
        assert counts == {1: 3, 2: 1, 3: 0}
    finally:
        drop()
