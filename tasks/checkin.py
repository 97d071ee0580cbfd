"""Daily check-in (打卡): one per business day, a streak with bonus days, cumulative milestones, a calendar.

Reset rules follow CRMEB's modes: `never` (only a missed day breaks the streak), `weekly` (a new streak
every Monday) and `monthly` (a new streak on the 1st). `streak_cycle_days` makes bonus days repeat inside
an unbroken streak (day 3 and day 7 of every week), which is how most brands run a 7-day check-in.
"""
from __future__ import annotations

import calendar
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import clock, events
from app.errors import Conflict
from app.extensions import db
from app.transactions import atomic
from members import service as members_service
from points import ledger as points_service
from tasks import service as definitions  # a module, read at call time: tasks.service imports this one
from tasks.common import add_rewards, check_open, pay
from tasks.models import CheckIn, TaskDefinition


class AlreadyCheckedIn(Conflict):
    code = "already_checked_in"


def checkin_task() -> TaskDefinition:
    tasks = definitions.running("checkin")
    if not tasks:
        raise Conflict("Check-in is not running now.", code="task_inactive")
    return tasks[0]


def resets_on(day: date, rule: str) -> bool:
    return (rule == "weekly" and day.weekday() == 0) or (rule == "monthly" and day.day == 1)


def _position(streak: int, cycle: int | None) -> int:
    return (streak - 1) % cycle + 1 if cycle else streak


def _last(member_id: int, before: date | None = None) -> CheckIn | None:
    stmt = select(CheckIn).where(CheckIn.member_id == member_id)
    if before is not None:
        stmt = stmt.where(CheckIn.day < before)
    return db.session.scalar(stmt.order_by(CheckIn.day.desc()).limit(1))


def next_streak(last: CheckIn | None, day: date, rule: str) -> int:
    if last is None or last.day != day - timedelta(days=1) or resets_on(day, rule):
        return 1
    return last.streak + 1


def current_streak(member_id: int, task: TaskDefinition | None) -> int:
    """The streak as the shopper sees it today: kept while today's check-in can still extend it."""
    today = clock.business_today()
    last = _last(member_id)
    if last is None:
        return 0
    if last.day == today:
        return last.streak
    rule = task.streak_reset if task else "never"
    return last.streak if next_streak(last, today, rule) > 1 else 0


def check_in(member_id: int) -> dict:
    try:
        with atomic():
            points_service.lock_account(member_id)  # serializes this member's check-ins
            task = checkin_task()
            check_open(task, members_service.get_member(member_id))
            today = clock.business_today()
            if db.session.scalar(select(CheckIn.id).where(CheckIn.member_id == member_id,
                                                          CheckIn.day == today)) is not None:
                raise AlreadyCheckedIn("Already checked in today.")
            last = _last(member_id, before=today)
            row = CheckIn(member_id=member_id, task_id=task.id, day=today, created_at=clock.now(),
                          streak=next_streak(last, today, task.streak_reset), total=(last.total if last else 0) + 1)
            db.session.add(row)
            db.session.flush()
            result = _reward(task, row)
    except IntegrityError:  # unique (member, day): the other request won
        raise AlreadyCheckedIn("Already checked in today.") from None
    return result


def _reward(task: TaskDefinition, row: CheckIn) -> dict:
    total = {"points": 0, "growth": 0, "coupon_ids": []}
    add_rewards(total, pay(row.member_id, task.reward, key=f"checkin:{row.id}", cause_id=row.id, note="check-in"))
    bonuses = []
    position = _position(row.streak, task.streak_cycle_days)
    for bonus in task.streak_bonuses or []:
        if bonus["day"] == position:
            paid = pay(row.member_id, bonus.get("reward"), key=f"checkin:{row.id}:streak:{bonus['day']}",
                       cause_id=row.id, note=f"check-in streak day {bonus['day']}")
            add_rewards(total, paid)
            bonuses.append({"kind": "streak", "day": bonus["day"], **_plain(paid)})
    for milestone in task.milestones or []:
        if milestone["total"] == row.total:
            paid = pay(row.member_id, milestone.get("reward"), key=f"checkin:{row.id}:milestone:{row.total}",
                       cause_id=row.id, note=f"check-in milestone {row.total}")
            add_rewards(total, paid)
            bonuses.append({"kind": "milestone", "day": milestone["total"], **_plain(paid)})
    row.points, row.growth, row.bonus = total["points"], total["growth"], bonuses
    db.session.flush()
    events.task_completed.send(None, member_id=row.member_id, task_code=task.code, completion_id=row.id,
                               points=total["points"], growth=total["growth"])
    return {"day": row.day, "streak": row.streak, "total": row.total, "reward": total, "bonuses": bonuses,
            "next_bonus": next_bonus(task, row.streak)}


def _plain(paid: dict) -> dict:
    return {"points": paid["points"], "growth": paid["growth"]}


def next_bonus(task: TaskDefinition, streak: int) -> dict | None:
    """The next bonus day the streak can reach (after `streak` days), and how many check-ins away it is."""
    days = sorted(b["day"] for b in task.streak_bonuses or [])
    if not days:
        return None
    cycle = task.streak_cycle_days
    for ahead in range(1, (cycle or max(days)) + 1):
        position = _position(streak + ahead, cycle)
        for bonus in task.streak_bonuses:
            if bonus["day"] == position:
                return {"day": bonus["day"], "days_left": ahead, "reward": bonus.get("reward") or {}}
    return None


def calendar_month(member_id: int, month: str | None) -> dict:
    """The days checked in during `month` ("YYYY-MM"; this business month when None)."""
    first = clock.parse_month(month)[1]
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    rows = list(db.session.scalars(select(CheckIn).where(CheckIn.member_id == member_id, CheckIn.day >= first,
                                                         CheckIn.day <= last).order_by(CheckIn.day)))
    tasks = definitions.running("checkin")
    task = tasks[0] if tasks else None
    streak = current_streak(member_id, task)
    latest = _last(member_id)
    today = clock.business_today()
    return {
        "month": f"{first.year}-{first.month:02d}",
        "days": [r.day for r in rows],
        "checked_in_today": latest is not None and latest.day == today,
        "streak": streak,
        "total": latest.total if latest else 0,
        "next_bonus": next_bonus(task, streak) if task else None,
    }
