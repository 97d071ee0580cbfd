"""`flask reports ...`: run the report jobs by hand (backfills, repairs, the demo)."""
from __future__ import annotations

from datetime import date, timedelta

import click
from flask.cli import AppGroup

from app import clock
from reports import jobs, rollups

reports_cli = AppGroup("reports", help="Report rollups, lifecycle, RFM.")


@reports_cli.command("rollup")
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), default=None, help="first day (default yesterday)")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), default=None, help="last day (default yesterday)")
def rollup(first, last) -> None:
    """Roll up closed business days, oldest first (idempotent)."""

    yesterday = clock.business_today() - timedelta(days=1)
    first_day: date = first.date() if first else yesterday
    last_day: date = last.date() if last else yesterday
    click.echo(rollups.rollup_range(first_day, last_day))


@reports_cli.command("segments")
def segments_command() -> None:
    """Recompute lifecycle stages, automatic tags, RFM, super users and KOC now."""

    click.echo({"lifecycle": jobs.recompute_lifecycle(), "rfm": jobs.compute_rfm()})


commands = [reports_cli]
