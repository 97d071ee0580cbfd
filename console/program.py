"""What every program page (方案: tiers, policies, earn rules, tasks, coupons, the mall, VIP) shares: who may
open them, the section's tabs, and how a refusal of the services is shown next to the input it names."""
from __future__ import annotations

from collections.abc import Callable

from flask import redirect, render_template, url_for
from marshmallow import Schema
from marshmallow import ValidationError as SchemaError

from app.auth import ADMIN_ROLES
from app.errors import ApiError
from console import session
from console.blueprint import blp, schema_error
from console.messages import message_for

PROGRAM_ROLES = ADMIN_ROLES  # marketing and admin; store staff and managers get 403 on every program page
requires_program = session.requires(*PROGRAM_ROLES)

TABS = [("console.program_tiers", "等级与权益"), ("console.program_policies", "等级与积分政策"),
        ("console.program_earn_rules", "积分规则"), ("console.program_tasks", "任务"),
        ("console.program_coupons", "优惠券"), ("console.program_mall", "积分商城"),
        ("console.program_vip", "付费会员")]
FIELD_FALLBACK = "此项无效，请检查。"


@blp.app_template_global()
def field_error(error: ApiError | None, *names: str) -> str | None:
    """The Chinese message for a refusal that names one of `names` (or a part of it: `benefits.monthly_pack.0`
    is shown at `benefits.monthly_pack`); None when the error is about another field or there is none."""
    if not error or not getattr(error, "fields", None):  # None, or undefined in the template
        return None
    for field in error.fields:
        if any(field == name or field.startswith(f"{name}.") for name in names):
            return FIELD_FALLBACK if error.code == "validation_error" else message_for(error)
    return None


@blp.app_template_global()
def program_tabs() -> list[tuple[str, str]]:
    return TABS


def render(page: str, status: int = 200, /, **context):
    return render_template(page, **context), status


def attempt(action: Callable[[], object]) -> tuple[object | None, ApiError | None]:
    """Run a service call; a refusal (the service's or the API schema's) comes back as an ApiError to show."""
    try:
        return action(), None
    except SchemaError as error:
        return None, schema_error(error)
    except ApiError as error:
        return None, error


def load(schema: type[Schema], body: dict) -> dict:
    """The body as the API route would receive it (its schema's checks and defaults)."""
    return schema().load(body)


@blp.get("/program")
@requires_program
def program():
    return redirect(url_for("console.program_tiers"))
