"""Task definitions (marketing) and the generic completion rule (share, post, custom and the system kinds).

Check-ins live in `tasks/checkin.py`, invites, first purchase and profile completion in `tasks/referrals.py`.
"""
from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app import clock, config_cache, events, fast_writes
from app.audit import service as audit
from app.errors import ApiError, Conflict, NotFound, ValidationError
from app.extensions import db
from app.pagination import keyset_page
from app.transactions import atomic
from coupons import templates
from members import service as members_service
from points import ledger as points_service
from tasks import checkin
from tasks.common import check_open, pay, period_key, reward_amounts
from tasks.models import SELF_REPORTED_KINDS, CheckIn, TaskCompletion, TaskDefinition
from tiers import ladder

log = logging.getLogger(__name__)
ONCE_KINDS = ("profile", "first_purchase")
CHECKIN_ONLY = ("streak_bonuses", "milestones", "streak_reset", "streak_cycle_days")


class CapReached(Conflict):
    code = "task_cap_reached"


# --- definitions (marketing) ----------------------------------------------------------------------------

def _snapshot(task: TaskDefinition) -> dict:
    return {c.key: getattr(task, c.key) for c in TaskDefinition.__table__.columns}


def _check_tiers(codes: list[str]) -> None:
    ladder.check_codes(codes or [], "tiers")


def _check_coupon_templates(task: TaskDefinition) -> None:
    """A reward naming a coupon template that does not exist would fail every completion: refuse it now."""
    named = [("reward", task.reward), ("invitee_reward", task.invitee_reward)]
    named += [("streak_bonuses", b.get("reward")) for b in task.streak_bonuses or []]
    named += [("milestones", m.get("reward")) for m in task.milestones or []]
    for field, reward in named:
        template_id = (reward or {}).get("coupon_template_id")
        if template_id:
            try:
                templates.get_template(template_id)
            except NotFound:
                raise ValidationError(field, f"Coupon template {template_id} does not exist.",
                                      code="unknown_coupon_template") from None


def _apply(task: TaskDefinition, body: dict) -> None:
    """Copy the admin body onto the task and hold the kind's own rules (why: a check-in is once a day by
    definition and a profile reward once ever, whatever cap an operator types)."""
    cap = body.pop("cap", None)
    if cap is not None:
        task.cap_period, task.cap_count = cap["period"], cap["count"]
    for name, value in body.items():
        setattr(task, name, value)
    if task.kind == "checkin":
        task.cap_period, task.cap_count = "day", 1
    elif task.kind in ONCE_KINDS:
        task.cap_period, task.cap_count = "once", 1
    else:
        for name in CHECKIN_ONLY:
            if name in body and body[name] not in (None, [], "never"):
                raise ValidationError(name, "Only check-in tasks have streak settings.", code="checkin_only")
    if task.kind != "invite" and body.get("invitee_reward"):
        raise ValidationError("invitee_reward", "Only invite tasks reward the invitee.")
    if task.starts_at and task.ends_at and task.starts_at >= task.ends_at:
        raise ValidationError("ends_at", "Must be after starts_at.", code="end_before_start")
    _check_tiers(task.tiers or [])
    _check_coupon_templates(task)
    if task.kind == "checkin" and task.active:
        stmt = select(TaskDefinition.id).where(TaskDefinition.kind == "checkin", TaskDefinition.active.is_(True))
        if task.id is not None:
            stmt = stmt.where(TaskDefinition.id != task.id)
        with db.session.no_autoflush:
            other = db.session.scalar(stmt)
        if other is not None:
            raise Conflict("Another check-in task is active; deactivate it first.", code="checkin_task_exists")


def create_task(body: dict) -> TaskDefinition:
    body = dict(body)
    if db.session.scalar(select(TaskDefinition.id).where(TaskDefinition.code == body["code"])) is not None:
        raise Conflict(f"A task with code {body['code']} exists.", code="duplicate_code")
    task = TaskDefinition(code=body.pop("code"), kind=body.pop("kind"))
    try:
        with atomic():
            _apply(task, body)  # before add: its own checks must not autoflush a half-built row
            db.session.add(task)
            db.session.flush()
            audit.record("task.create", "task", task.id, None, _snapshot(task))
    except IntegrityError:
        raise Conflict("A task with this code exists.", code="duplicate_code") from None
    return task


def update_task(task_id: int, body: dict) -> TaskDefinition:
    with atomic():
        task = db.session.scalar(select(TaskDefinition).where(TaskDefinition.id == task_id).with_for_update())
        if task is None:
            raise NotFound("No such task.", code="task_not_found")
        before = _snapshot(task)
        _apply(task, dict(body))
        db.session.flush()
        audit.record("task.update", "task", task.id, before, _snapshot(task))
    return task


def get_task(task_id: int) -> TaskDefinition:
    task = db.session.get(TaskDefinition, task_id)
    if task is None:
        raise NotFound("No such task.", code="task_not_found")
    return task


def list_tasks(limit: int, cursor: str | None) -> dict:
    return keyset_page(select(TaskDefinition), TaskDefinition.id, limit, cursor)


def by_code(code: str) -> TaskDefinition:
    task = db.session.scalar(select(TaskDefinition).where(TaskDefinition.code == code))
    if task is None:
        raise NotFound(f"No task {code}.", code="task_not_found")
    return task


definitions_copy = config_cache.register(
    "tasks", lambda: tuple(config_cache.copy_row(t) for t in db.session.scalars(
        select(TaskDefinition).where(TaskDefinition.active.is_(True))
        .order_by(TaskDefinition.display_order, TaskDefinition.id))),
    (TaskDefinition,))


def running(kind: str) -> list[TaskDefinition]:
    """Tasks of a kind that are on and within their dates now, in display order: read-only copies from the
    per-process cache of the till's configuration (app.config_cache), since every first purchase and every
    check-in asks."""
    now = clock.now()
    return [t for t in definitions_copy() if t.kind == kind and clock.open_at(t, now)]


# --- completions --------------------------------------------------------------------------------------

def done_in_period(task: TaskDefinition, member_id: int, day: date) -> int:
    return db.session.execute(_DONE_IN_PERIOD, {"task_id": task.id, "member_id": member_id,
                                                "period_key": period_key(task.cap_period, day)}).scalar() or 0


def find_completion(task_id: int, member_id: int, ref: str) -> TaskCompletion | None:
    return db.session.scalar(select(TaskCompletion).where(
        TaskCompletion.task_id == task_id, TaskCompletion.member_id == member_id, TaskCompletion.ref == ref))


_completions = TaskCompletion.__table__
_COMPLETED = select(_completions.c.id).where(_completions.c.task_id == bindparam("task_id"),
                                             _completions.c.member_id == bindparam("member_id"),
                                             _completions.c.ref == bindparam("ref"))
_DONE_IN_PERIOD = select(func.count()).select_from(_completions).where(
    _completions.c.task_id == bindparam("task_id"), _completions.c.member_id == bindparam("member_id"),
    _completions.c.period_key == bindparam("period_key"))
_INSERT_COMPLETION = insert(_completions).returning(_completions.c.id)
_COMPLETION_COLUMNS = fast_writes.insert_columns(_completions)
_SET_COMPLETION_COUPON = update(_completions).where(_completions.c.id == bindparam("completion_id")).values(
    coupon_id=bindparam("coupon"))


def completed(task_id: int, member_id: int, ref: str) -> bool:
    return db.session.execute(_COMPLETED, {"task_id": task_id, "member_id": member_id, "ref": ref}).first() is not None


def record(task: TaskDefinition, member_id: int, ref: str) -> TaskCompletion:
    """Take the next slot of the period and pay the reward, inside the caller's transaction.

    The caller holds the member's account lock, so the count is exact; the unique (period, slot) is the
    database's own guarantee should anything bypass the lock. The row goes in by a Core INSERT with the
    points and growth it pays (a reward's points and growth are what it says); only a coupon, known once
    granted, is written after."""
    day = clock.business_today()
    done = done_in_period(task, member_id, day)
    if done >= task.cap_count:
        raise CapReached(f"The task {task.code} is done {done} of {task.cap_count} times this period.")
    points, growth = reward_amounts(task.reward)
    completion = TaskCompletion(task_id=task.id, member_id=member_id, ref=ref, slot=done + 1, business_day=day,
                                period_key=period_key(task.cap_period, day), created_at=clock.now(),
                                points=points, growth=growth, coupon_id=None)
    completion.id = db.session.execute(_INSERT_COMPLETION, {
        c: getattr(completion, c) for c in _COMPLETION_COLUMNS}).scalar_one()
    fast_writes.adopt(completion)
    paid = pay(member_id, task.reward, key=f"task:{completion.id}", cause_id=completion.id, note=f"task {task.code}",
               new_key=True)  # the completion was inserted just above
    if paid["coupon_id"] is not None:
        db.session.execute(_SET_COMPLETION_COUPON, {"completion_id": completion.id, "coupon": paid["coupon_id"]})
        fast_writes.mark_written(completion, ["coupon_id"], {"coupon_id": paid["coupon_id"]})
    events.task_completed.send(None, member_id=member_id, task_code=task.code, completion_id=completion.id,
                               points=points, growth=growth)
    return completion


def _view(task: TaskDefinition, completion: TaskCompletion, new: bool) -> dict:
    """`reward` is what this request gave: a ref reported again gives nothing, and says what it got the first
    time in `rewarded_before` (a mini-program showing `reward` would otherwise celebrate points twice)."""
    given = {"points": completion.points, "growth": completion.growth,
             "coupon_ids": [completion.coupon_id] if completion.coupon_id else []}
    return {"task_code": task.code, "ref": completion.ref, "new": new, "completed_at": completion.created_at,
            "reward": given if new else {"points": 0, "growth": 0, "coupon_ids": []},
            "rewarded_before": None if new else given,
            "progress": {"period": completion.period_key, "done": completion.slot, "cap": task.cap_count}}


def complete(member_id: int, code: str, ref: str) -> dict:
    """A share/post/custom task reported by the mini-program; the same ref again returns the first result."""

    task = by_code(code)
    if task.kind not in SELF_REPORTED_KINDS:
        raise Conflict(f"The task {code} completes by itself, not by report.", code="task_not_self_reported")
    try:
        with atomic():
            points_service.lock_account(member_id)
            existing = find_completion(task.id, member_id, ref)
            if existing is not None:
                return _view(task, existing, new=False)
            check_open(task, members_service.get_member(member_id))
            completion = record(task, member_id, ref)
            result = _view(task, completion, new=True)
    except IntegrityError:  # lost a race the lock should have prevented: report what stands
        existing = find_completion(task.id, member_id, ref)
        if existing is None:
            raise CapReached(f"The task {code} is done the most times this period.") from None
        return _view(task, existing, new=False)
    return result


def complete_for_system(task: TaskDefinition, member_id: int, ref: str) -> TaskCompletion | None:
    """Profile / first purchase: inside the sender's transaction; never breaks the sender's work.

    A savepoint isolates the reward, so a misconfigured coupon template costs the shopper the reward
    (logged), not the purchase or the profile edit that caused it."""

    member = members_service.get_member(member_id)
    if not clock.open_at(task, clock.now()) or not ladder.tier_allowed(task.tiers, member):
        return None
    points_service.lock_account(member_id)
    if completed(task.id, member_id, ref):
        return None
    try:
        with db.session.begin_nested():
            return record(task, member_id, ref)
    except CapReached:
        return None
    except (ApiError, IntegrityError) as exc:
        log.warning("task %s for member %s not rewarded: %s", task.code, member_id, exc)
        return None


# --- the shopper's list --------------------------------------------------------------------------------

def list_for_member(member_id: int) -> list[dict]:
    member = members_service.get_member(member_id)
    now, today = clock.now(), clock.business_today()
    tasks = [t for t in db.session.scalars(select(TaskDefinition).where(TaskDefinition.active.is_(True))
                                           .order_by(TaskDefinition.display_order, TaskDefinition.id))
             if clock.open_at(t, now)]
    counts = {(task_id, key): n for task_id, key, n in db.session.execute(
        select(TaskCompletion.task_id, TaskCompletion.period_key, func.count(TaskCompletion.id))
        .where(TaskCompletion.member_id == member_id, TaskCompletion.task_id.in_([t.id for t in tasks]))
        .group_by(TaskCompletion.task_id, TaskCompletion.period_key))}
    checked_today = db.session.scalar(select(CheckIn.id).where(CheckIn.member_id == member_id,
                                                               CheckIn.day == today)) is not None
    out = []
    for task in tasks:
        key = period_key(task.cap_period, today)
        done = int(checked_today) if task.kind == "checkin" else counts.get((task.id, key), 0)
        item = {
            "code": task.code, "kind": task.kind, "title": task.title, "description": task.description,
            "display_order": task.display_order, "reward": task.reward or {},
            "cap": {"period": task.cap_period, "count": task.cap_count},
            "eligible": ladder.tier_allowed(task.tiers, member),
            "progress": {"period": key, "done": done, "cap": task.cap_count, "completed": done >= task.cap_count},
        }
        if task.kind == "checkin":
            item["progress"]["streak"] = checkin.current_streak(member_id, task)
        out.append(item)
    return out
