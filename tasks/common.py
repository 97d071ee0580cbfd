"""What every task rule shares: periods, who may take part, and paying a reward."""
from __future__ import annotations

import logging
from datetime import date

from app import clock
from app.errors import Conflict, Forbidden
from coupons import issuing
from members.models import Member
from points import ledger as points_service
from tasks.models import TaskDefinition
from tiers import growth as tier_growth
from tiers import ladder

log = logging.getLogger(__name__)


def period_key(period: str, day: date) -> str:
    """The bucket a cap counts in; weeks are ISO weeks (Monday first), as the mini-program shows them."""
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    return "once"


def check_open(task: TaskDefinition, member: Member) -> None:
    """409 when the task is off or outside its dates, 403 when the member's tier may not take part."""
    if not clock.open_at(task, clock.now()):
        raise Conflict(f"The task {task.code} is not running now.", code="task_inactive")
    if not ladder.tier_allowed(task.tiers, member):
        raise Forbidden(f"Members of this tier cannot do the task {task.code}.", code="tier_not_allowed")


def reward_amounts(reward: dict | None) -> tuple[int, int]:
    """(points, growth) a reward pays: what `pay` credits and what a completion row records."""
    reward = reward or {}
    return max(int(reward.get("points") or 0), 0), max(int(reward.get("growth") or 0), 0)


def pay(member_id: int, reward: dict | None, *, key: str, cause_id, note: str | None = None,
        new_key: bool = False) -> dict:
    """Points, growth and/or a coupon for one reason, idempotent by `key` (inside the caller's transaction).
    `new_key`: the key names a row this transaction has just inserted (a task completion), so the ledger
    skips looking it up (points.ledger.credit)."""

    reward = reward or {}
    paid = {"points": 0, "growth": 0, "coupon_id": None}
    points, growth = reward_amounts(reward)
    if points > 0:
        points_service.credit(member_id, points, kind="grant", key=key, cause_type="task", cause_id=cause_id,
                              note=note, new_key=new_key)
        paid["points"] = points
    if growth > 0:
        tier_growth.add_growth(member_id, growth, reason="task", ref=key)
        paid["growth"] = growth
    template_id = reward.get("coupon_template_id")
    if template_id:
        coupon = issuing.grant(member_id, int(template_id), key=key, reason="task")
        paid["coupon_id"] = str(coupon.id)
    return paid


def add_rewards(total: dict, part: dict) -> dict:
    total["points"] += part["points"]
    total["growth"] += part["growth"]
    if part.get("coupon_id"):
        total.setdefault("coupon_ids", []).append(part["coupon_id"])
    return total
