"""Tier and VIP commands: the benefit jobs by hand, and paying a VIP order in the embedded demo."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.errors import ApiError
from members import jobs


def _counts(job, *args) -> None:
    try:
        click.echo(job(*args))
    except ApiError as error:
        raise click.ClickException(f"{error.code}: {error.message}") from None


vip_cli = AppGroup("vip", help="Paid VIP.")
tiers_cli = AppGroup("tiers", help="Tier reviews and benefit grants.")


@vip_cli.command("mark-paid")
@click.argument("order_no")
def mark_paid(order_no: str) -> None:
    """Embedded demo only: treat ORDER_NO as paid (there is no merchant account in the demo)."""
    from members.service import get_member
    from members.vip import service

    try:
        order = service.mark_paid(order_no)
    except ApiError as error:
        raise click.ClickException(f"{error.code}: {error.message}") from None
    member = get_member(order.member_id)
    click.echo(f"order {order.order_no} paid; member {member.id} is VIP until {member.vip_until.isoformat()}")


@vip_cli.command("expire")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None)
def expire(day) -> None:
    _counts(jobs.expire_vips, day.date() if day else None)


@tiers_cli.command("review")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None)
def review(day) -> None:
    _counts(jobs.review_tiers, day.date() if day else None)


@tiers_cli.command("birthdays")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None)
def birthdays(day) -> None:
    _counts(jobs.grant_birthday_gifts, day.date() if day else None)


@tiers_cli.command("monthly-packs")
@click.option("--month", default=None, help="YYYY-MM (default: this month)")
def monthly_packs(month: str | None) -> None:
    _counts(jobs.grant_monthly_packs, month)


commands = [vip_cli, tiers_cli]
