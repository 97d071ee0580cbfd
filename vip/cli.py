"""Paid VIP commands: expiry by hand, and paying a VIP order in the embedded demo."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.errors import ApiError
from members.service import get_member
from vip import jobs, service

vip_cli = AppGroup("vip", help="Paid VIP.")


@vip_cli.command("mark-paid")
@click.argument("order_no")
def mark_paid(order_no: str) -> None:
    """Embedded demo only: treat ORDER_NO as paid (there is no merchant account in the demo)."""
    try:
        order = service.mark_paid(order_no)
    except ApiError as error:
        raise click.ClickException(f"{error.code}: {error.message}") from None
    member = get_member(order.member_id)
    click.echo(f"order {order.order_no} paid; member {member.id} is VIP until {member.vip_until.isoformat()}")


@vip_cli.command("expire")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None)
def expire(day) -> None:
    try:
        click.echo(jobs.expire_vips(day.date() if day else None))
    except ApiError as error:
        raise click.ClickException(f"{error.code}: {error.message}") from None


commands = [vip_cli]
