"""`flask coupons expire`: the expiry job by hand (the scheduler runs it daily)."""
import click
from flask.cli import AppGroup

from coupons import service

coupons_cli = AppGroup("coupons", help="Coupon tools.")


@coupons_cli.command("expire")
def expire() -> None:
    """Mark available coupons past their end as expired; prints the counts."""
    click.echo(service.expire_coupons())


commands = [coupons_cli]
