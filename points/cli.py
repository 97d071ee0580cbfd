"""`flask points verify`: the ledger's self-check (ARCHITECTURE rule 2)."""
import click
from flask.cli import AppGroup

from points import ledger

points_cli = AppGroup("points", help="Points ledger tools.")


@points_cli.command("verify")
def verify() -> None:
    """Check balance == sum(ledger) == sum(open lots) for every member; exit 1 on any drift."""
    drifts = ledger.verify()
    for drift in drifts:
        click.echo(f"DRIFT member {drift['member_id']}: {'; '.join(drift['problems'])} {drift}")
    if drifts:
        raise SystemExit(1)
    click.echo("ledger ok: no drift")


commands = [points_cli]
