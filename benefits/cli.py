"""Tier reviews and benefit grants by hand (the same jobs the scheduler runs)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.errors import ApiError
from benefits import jobs
from tiers import jobs as tier_jobs


def _counts(job, *args) -> None:
    try:
        click.echo(job(*args))
    except ApiError as error:
        raise click.ClickException(f"{error.code}: {error.message}") from None


tiers_cli = AppGroup("tiers", help="Tier reviews and benefit grants.")


@tiers_cli.command("review")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None)
def review(day) -> None:
    _counts(tier_jobs.review_tiers, day.date() if day else None)


@tiers_cli.command("birthdays")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None)
def birthdays(day) -> None:
    _counts(jobs.grant_birthday_gifts, day.date() if day else None)


@tiers_cli.command("monthly-packs")
@click.option("--month", default=None, help="YYYY-MM (default: this month)")
def monthly_packs(month: str | None) -> None:
    _counts(jobs.grant_monthly_packs, month)


commands = [tiers_cli]
