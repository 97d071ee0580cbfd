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
from members import service as members_service
from members.models import Member
from points import ledger as points_service
from tasks.common import pay
from tasks.models import ReferralReward
from tasks.service import CapReached, complete_for_system, find_completion, record, running
from tiers import ladder

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
