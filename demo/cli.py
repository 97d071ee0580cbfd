"""The demo data command."""
from __future__ import annotations

import click

import demo


@click.command("seed-demo")
def seed_demo() -> None:
    """Create the demo program (idempotent: run it as often as you like)."""
    for line in demo.seed():
        click.echo(line)


commands = [seed_demo]
