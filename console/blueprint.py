"""The console's one blueprint and what every page shares: sign-in check before each request, the money
filter, the operator and role names in every template, the CSRF and throttle pages, and small helpers.
Pages live in their own modules (console/pages.py lists them) and attach their routes to `blp`."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, g, render_template, request
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError as SchemaError

from app import clock
from app.errors import ApiError
from console import session
from console.messages import message_for
from tiers import ladder

blp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates", static_folder="static")
blp.before_request(session.load)

HOME_BY_ROLE = {"staff": "console.till", "manager": "console.till", "marketing": "console.marketing",
                "admin": "console.admin_operators"}
ROLE_NAMES = {"staff": "店员", "manager": "店长", "marketing": "市场", "admin": "管理员"}


@blp.app_template_filter("yuan")
def yuan(fen: int | None) -> str:
    """Fen as the till shows money: ¥12.30."""
    return "-" if fen is None else f"¥{fen / 100:,.2f}"


@blp.app_template_filter("local")
def local(moment: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A stored (UTC) moment as the brand reads it: in the business time zone, so 23:30 in Shanghai is that
    day, not the day before."""
    return "" if moment is None else clock.as_utc(moment).astimezone(clock.business_tz()).strftime(pattern)


@blp.context_processor
def _globals() -> dict:
    return {"operator": g.get("operator"), "role_names": ROLE_NAMES, "message_for": message_for,
            "tier_names": {tier.code: tier.name for tier in ladder.ladder_copy()}}


@blp.errorhandler(CSRFError)
def _csrf_refused(error: CSRFError):
    if request.headers.get("HX-Request"):
        return render_template("console/_alert.html", error_code="csrf"), 400
    return render_template("console/error.html", message_code="csrf"), 400


@blp.errorhandler(429)
def _throttled(error):
    return render_template("console/login.html", error_code="rate_limited", next=None), 429


def schema_error(error: SchemaError) -> ApiError:
    """The API's schema refusal as an ApiError naming each field by its dotted path (`benefits.monthly_pack`),
    so a form can show it next to the input it came from."""
    fields = sorted(_dotted(error.messages)) if isinstance(error.messages, dict) else []
    return ApiError("; ".join(fields), code="validation_error", fields={name: [] for name in fields})


def _dotted(messages: dict, prefix: str = "") -> list[str]:
    names: list[str] = []
    for key, value in messages.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        names.extend(_dotted(value, name) if isinstance(value, dict) else [name])
    return names


def hx() -> bool:
    return bool(request.headers.get("HX-Request"))
