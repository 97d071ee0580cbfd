"""`flask coupons expire` and `flask coupons run-issue ID`: the jobs by hand (the scheduler / RQ run them)."""
import click
from flask.cli import AppGroup

from coupons import expiry
from marketing import issues

coupons_cli = AppGroup("coupons", help="Coupon tools.")


@coupons_cli.command("expire")
def expire() -> None:
    """Mark available coupons past their end as expired; prints the counts."""
    click.echo(expiry.expire_coupons())


@coupons_cli.command("run-issue")
@click.argument("issue_id", type=int)
def run_issue(issue_id: int) -> None:
    """Run (or resume after a crash, or without Redis) a targeted issue in this process; prints the counts."""
    click.echo(issues.run_issue(issue_id))


commands = [coupons_cli]
