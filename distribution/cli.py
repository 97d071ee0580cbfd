"""`flask distribution verify`: the promoters' money self-check, like `flask points verify`."""
import click
from flask.cli import AppGroup

from distribution import accounts

distribution_cli = AppGroup("distribution", help="Distribution (分销) tools.")


@distribution_cli.command("verify")
def verify() -> None:
    """Check each promoter's balances == their ledger == their pending commission and open withdrawals."""
    drifts = accounts.verify()
    for drift in drifts:
        click.echo(f"DRIFT promoter {drift['promoter_id']}: {'; '.join(drift['problems'])} {drift}")
    if drifts:
        raise SystemExit(1)
    click.echo("distribution ledger ok: no drift")


commands = [distribution_cli]
