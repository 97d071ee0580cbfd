"""Operator-facing CLI: stores and operator accounts."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.errors import ApiError
from app.operators import service as operators

stores_cli = AppGroup("stores", help="Stores.")
operators_cli = AppGroup("operators", help="Staff, manager, marketing and admin accounts.")


def _fail(error: ApiError) -> None:
    raise click.ClickException(f"{error.code}: {error.message}")


@stores_cli.command("create")
@click.option("--code", required=True)
@click.option("--name", required=True)
def create_store(code: str, name: str) -> None:
    try:
        store = operators.create_store(code, name)
    except ApiError as error:
        _fail(error)
    click.echo(f"store {store.code} created (id {store.id})")


@operators_cli.command("create")
@click.option("--username", required=True)
@click.option("--password", required=True)
@click.option("--role", required=True, type=click.Choice(["staff", "manager", "marketing", "admin"]))
@click.option("--store", "store_code", default=None, help="store code (staff and managers)")
def create_operator(username: str, password: str, role: str, store_code: str | None) -> None:
    try:
        operator = operators.create_operator(username, password, role, store_code)
    except ApiError as error:
        _fail(error)
    click.echo(f"operator {operator.username} ({operator.role}) created (id {operator.id})")


commands = [stores_cli, operators_cli]
