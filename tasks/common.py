"""What every task rule shares: periods, who may take part, and paying a reward."""
from __future__ import annotations

import logging
from datetime import date, datetime

from app import clock
from app.errors import Conflict, Forbidden
from members import service as members_service
from members.models import Member
from tasks.models import TaskDefinition

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


def in_window(task: TaskDefinition, moment: datetime) -> bool:
    if not task.active:
        return False
    if task.starts_at is not None and moment < task.starts_at:
        return False
    return task.ends_at is None or moment < task.ends_at


def tier_allowed(allowed: list | None, member: Member) -> bool:
    if not allowed:
        return True
    tier = members_service.member_tier(member)
    return tier is not None and tier.code in allowed


def check_open(task: TaskDefinition, member: Member) -> None:
    """409 when the task is off or outside its dates, 403 when the member's tier may not take part."""
    if not in_window(task, clock.now()):
        raise Conflict(f"The task {task.code} is not running now.", code="task_inactive")
    if not tier_allowed(task.tiers, member):
        raise Forbidden(f"Members of this tier cannot do the task {task.code}.", code="tier_not_allowed")


def reward_amounts(reward: dict | None) -> tuple[int, int]:
    """(points, growth) a reward pays: what `pay` credits and what a completion row records."""
    reward = reward or {}
    return max(int(reward.get("points") or 0), 0), max(int(reward.get("growth") or 0), 0)


def pay(member_id: int, reward: dict | None, *, key: str, cause_id, note: str | None = None,
        new_key: bool = False) -> dict:
    """Points, growth and/or a coupon for one reason, idempotent by `key` (inside the caller's transaction).
    `new_key`: the key names a row this transaction has just inserted (a task completion), so the ledger
    skips looking it up (points.service.credit)."""
    from coupons import service as coupons_service
    from points import service as points_service

    reward = reward or {}
    paid = {"points": 0, "growth": 0, "coupon_id": None}
    points, growth = reward_amounts(reward)
    if points > 0:
        points_service.credit(member_id, points, kind="grant", key=key, cause_type="task", cause_id=cause_id,
                              note=note, new_key=new_key)
        paid["points"] = points
    if growth > 0:
        members_service.add_growth(member_id, growth, reason="task", ref=key)
        paid["growth"] = growth
    template_id = reward.get("coupon_template_id")
    if template_id:
        coupon = coupons_service.grant(member_id, int(template_id), key=key, reason="task")
        coupon_id = coupon.get("id") if isinstance(coupon, dict) else getattr(coupon, "id", None)
        paid["coupon_id"] = None if coupon_id is None else str(coupon_id)
    return paid


def add_rewards(total: dict, part: dict) -> dict:
    total["points"] += part["points"]
    total["growth"] += part["growth"]
    if part.get("coupon_id"):
        total.setdefault("coupon_ids", []).append(part["coupon_id"])
    return total
