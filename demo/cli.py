"""The demo data command."""
from __future__ import annotations

import click
from flask import current_app

import demo


@click.command("seed-demo")
def seed_demo() -> None:
    """Create the demo program (idempotent: run it as often as you like). Never in production: it creates
    operators with a published password (demo1234) and a program nobody configured."""
    if current_app.config["MODE"] == "production":
        raise click.ClickException("seed-demo refuses to run in production (APP_MODE=production): the demo's "
                                   "logins have a published password.")
    for line in demo.seed():
        click.echo(line)


commands = [seed_demo]
