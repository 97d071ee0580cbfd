"""SQL that differs by dialect, written once."""
from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import Table, any_, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db


def insert_ignore(table: Table):
    """INSERT ... ON CONFLICT DO NOTHING (PostgreSQL and SQLite): create-if-missing without a race."""
    construct = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return construct(table).on_conflict_do_nothing()


def custom_plans() -> None:
    """PostgreSQL: plan the rest of this transaction's statements for their actual parameters.

    psycopg prepares a statement from its sixth execution on, and PostgreSQL may then settle on a generic plan
    made without the parameters' values. For a batch job's multi-step CTE over an array of ids that plan was
    five times slower than the one made for the values (activating 1M pending lots: 221 s against 47 s,
    bench/README.md). Planning a statement that runs once per batch of thousands of rows costs nothing worth
    caching. SET LOCAL ends with the transaction, i.e. with the batch. No-op on SQLite."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def default_plans() -> None:
    """PostgreSQL: back to the usual plan caching for the rest of this transaction (after `custom_plans`).

    A bulk INSERT checks each row's foreign keys with cached plans run once per row: under force_custom_plan
    each check is planned again, and an import's INSERTs cost 2-3 times their CPU (bench/README.md). No-op on
    SQLite."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL plan_cache_mode = auto"))


def _json_value(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def insert_many(table: Table, rows: list[dict], *, ignore_conflicts: bool = False,
                returning: tuple[str, ...] = ()) -> list:
    """Insert many rows in one statement whatever their number; returns the `returning` columns of the rows
    inserted (a conflict ignored returns nothing). Every row names the same columns, defaults included:
    Python-side column defaults are not applied here.

    On PostgreSQL the rows travel as one JSON parameter expanded by json_populate_recordset into the table's
    row type: one short statement to parse and plan, where a multi-row VALUES list costs a placeholder per
    value on both sides (measured: the grant jobs spent more time building and parsing VALUES than
    inserting). SQLite gets an executemany, which SQLAlchemy batches into multi-row INSERTs."""
    if not rows:
        return []
    columns = list(rows[0])
    if db.session.get_bind().dialect.name == "postgresql":
        names = ", ".join(f'"{name}"' for name in columns)
        sql = (f'INSERT INTO "{table.name}" ({names}) SELECT {names} '
               f'FROM json_populate_recordset(NULL::"{table.name}", CAST(:rows AS json))')
        if ignore_conflicts:
            sql += " ON CONFLICT DO NOTHING"
        if returning:
            sql += " RETURNING " + ", ".join(f'"{name}"' for name in returning)
        seen: dict = {}  # a batch repeats a few moments (its `now`, a few expiry days) thousands of times

        def as_json(value):
            found = seen.get(value)
            if found is None:
                found = seen[value] = _json_value(value)
            return found

        result = db.session.execute(text(sql), {"rows": json.dumps(rows, default=as_json, ensure_ascii=False)})
        return result.all() if returning else []
    stmt = sqlite.insert(table)
    if ignore_conflicts:
        stmt = stmt.on_conflict_do_nothing()
    if returning:
        return db.session.execute(stmt.returning(*(table.c[name] for name in returning)), rows).all()
    db.session.execute(stmt, rows)
    return []


def update_many(table: Table, rows: list[dict], *, key: str = "id") -> None:
    """Update many rows, each by its `key`, in one statement whatever their number: every row names the same
    columns (the key and the columns it sets).

    On PostgreSQL the rows travel as one JSON parameter, as in insert_many, and the UPDATE joins them
    (UPDATE .. FROM json_populate_recordset): one statement executed once, where an executemany is a statement
    executed (parsed, planned, run) per row. SQLite gets an executemany: it runs in process, and an UPDATE by
    primary key costs it a few microseconds."""
    if not rows:
        return
    columns = [name for name in rows[0] if name != key]
    if db.session.get_bind().dialect.name == "postgresql":
        sets = ", ".join(f'"{name}" = v."{name}"' for name in columns)
        db.session.execute(text(
            f'UPDATE "{table.name}" SET {sets} '
            f'FROM json_populate_recordset(NULL::"{table.name}", CAST(:rows AS json)) AS v '
            f'WHERE "{table.name}"."{key}" = v."{key}"'),
            {"rows": json.dumps(rows, default=_json_value, ensure_ascii=False)})
        return
    stmt = (table.update().where(table.c[key] == bindparam("b_key"))
            .values({name: bindparam(f"b_{name}") for name in columns}))
    db.session.execute(stmt, [{"b_key": row[key], **{f"b_{name}": row[name] for name in columns}} for row in rows])


def any_of(column, values: list):
    """`column IN values` as one array parameter on PostgreSQL (= ANY(:array)): a batch of thousands of ids
    would otherwise be rendered and parsed as thousands of placeholders."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(list(values))
