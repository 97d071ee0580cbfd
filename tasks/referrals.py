"""Rewards other domains cause: first purchase, a completed profile, and invites (裂变).

These run inside the sender's transaction (a purchase, a profile edit) and never commit. An invite pays
the inviter when the invited friend makes a first purchase: one outcome row per invitee (unique), and at
most the invite task's cap per inviter per period (the inviter's account lock makes the count exact).
Locks go newer member -> older member (an inviter always registered before the invitee), so two
purchases can never wait on each other in a cycle.
"""
from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import clock
from app.errors import ApiError
from app.extensions import db
from app.pagination import keyset_page
from coupons import issuing
from members import service as members_service
from members.models import Member
from points import ledger as points_service
from tasks.common import pay, reward_amounts
from tasks.models import ReferralReward, TaskCompletion, TaskDefinition
from tasks.service import CapReached, complete_for_system, find_completion, record, running
from tiers import growth as tier_growth
from tiers import ladder
from tiers.models import GrowthEvent

log = logging.getLogger(__name__)


def on_profile_updated(member_id: int) -> None:
    member = db.session.get(Member, member_id)
    if member is None or not (member.nickname and member.birthday and member.phone):
        return
    for task in running("profile"):
        complete_for_system(task, member_id, "profile")


def on_purchase_recorded(member_id: int, purchase_id: int, first: bool) -> None:
    if not first:
        return
    for task in running("first_purchase"):
        complete_for_system(task, member_id, "first_purchase")
    reward_inviter(member_id, purchase_id)


def on_purchase_refunded(member_id: int, first: bool) -> None:
    """A first purchase refunded in full takes back what it earned beyond itself: the member's first-purchase
    reward, the inviter's invite reward and the invitee's welcome reward (buying and returning a first order
    must not farm them). Points come back as a reversal (maybe debt), growth is removed, unused coupons are
    withdrawn. The member's next purchase is not a first one, so nothing is paid again."""
    if not first:
        return
    for task in _tasks_of_kind("first_purchase"):
        completion = find_completion(task.id, member_id, "first_purchase")
        if completion is not None:
            _take_back(member_id, f"task:{completion.id}", completion.points, completion.growth, completion.id)
    referral = db.session.scalar(select(ReferralReward).where(ReferralReward.invitee_id == member_id,
                                                              ReferralReward.state != "taken_back"))
    if referral is None:
        return
    if referral.completion_id is not None:
        completion = db.session.get(TaskCompletion, referral.completion_id)
        _take_back(referral.inviter_id, f"task:{completion.id}", completion.points, completion.growth, completion.id)
    if referral.task_id is not None:
        task = db.session.get(TaskDefinition, referral.task_id)
        points, growth = reward_amounts(task.invitee_reward)
        _take_back(member_id, f"task:{task.id}:invitee:{member_id}", points, growth, member_id)
    referral.state = "taken_back"


def _tasks_of_kind(kind: str) -> list[TaskDefinition]:
    """Every task of a kind, on or off: a reward paid while a task was on is taken back after it is off."""
    return list(db.session.scalars(select(TaskDefinition).where(TaskDefinition.kind == kind)))


def _take_back(member_id: int, key: str, points: int, growth: int, cause_id: int) -> None:
    """Reverse what `pay` gave under `key`, once: the reversal's ledger key and growth ref say it was done."""
    done_key = f"takeback:{key}"
    if points_service.find_entry("reverse", done_key) is not None or db.session.scalar(
            select(GrowthEvent.id).where(GrowthEvent.member_id == member_id, GrowthEvent.ref == done_key)):
        return
    if points > 0 and points_service.find_entry("grant", key) is not None:
        points_service.reverse(member_id, points, key=done_key, cause_type="task", cause_id=cause_id,
                               note="its first purchase was refunded")
    if growth > 0:
        tier_growth.add_growth(member_id, -growth, reason="refund", ref=done_key)
    issuing.withdraw(member_id, key)


def reward_inviter(invitee_id: int, purchase_id: int | None) -> ReferralReward | None:
    invitee = db.session.get(Member, invitee_id)
    if invitee is None or invitee.invited_by_id is None or invitee.invited_by_id == invitee.id:
        return None
    points_service.lock_account(invitee.id)
    if db.session.scalar(select(ReferralReward.id).where(ReferralReward.invitee_id == invitee.id)) is not None:
        return None
    inviter = members_service.get_member(invitee.invited_by_id)
    tasks = running("invite")
    task = tasks[0] if tasks else None
    try:
        with db.session.begin_nested():
            outcome = ReferralReward(invitee_id=invitee.id, inviter_id=inviter.id, purchase_id=purchase_id,
                                     task_id=task.id if task else None, state="no_task", created_at=clock.now())
            if task is not None and ladder.tier_allowed(task.tiers, inviter):
                points_service.lock_account(inviter.id)
                ref = f"invitee:{invitee.id}"
                completion = find_completion(task.id, inviter.id, ref)
                if completion is None:
                    try:
                        with db.session.begin_nested():
                            completion = record(task, inviter.id, ref)
                    except CapReached:
                        outcome.state = "capped"
                if completion is not None:
                    outcome.state, outcome.completion_id = "rewarded", completion.id
                    outcome.points = completion.points
            elif task is not None:
                outcome.state = "not_eligible"  # the inviter's tier may not take part
            if task is not None and task.invitee_reward:
                pay(invitee.id, task.invitee_reward, key=f"task:{task.id}:invitee:{invitee.id}",
                    cause_id=invitee.id, note="invited by a friend")
            db.session.add(outcome)
            db.session.flush()
    except (ApiError, IntegrityError) as exc:
        log.warning("invite reward for invitee %s not given: %s", invitee.id, exc)
        return None
    return outcome


def list_referrals(member_id: int, limit: int, cursor: str | None) -> dict:
    page = keyset_page(select(Member).where(Member.invited_by_id == member_id), Member.id, limit, cursor)
    ids = [m.id for m in page["items"]]
    outcomes = {r.invitee_id: r for r in db.session.scalars(
        select(ReferralReward).where(ReferralReward.invitee_id.in_(ids)))} if ids else {}
    items = []
    for friend in page["items"]:
        outcome = outcomes.get(friend.id)
        items.append({
            "member_id": friend.id, "nickname": friend.nickname, "avatar_url": friend.avatar_url,
            "joined_at": friend.created_at,
            "state": outcome.state if outcome else "joined",
            "points": outcome.points if outcome else 0,
            "converted_at": outcome.created_at if outcome else None,
        })
    return {"items": items, "next_cursor": page["next_cursor"]}
