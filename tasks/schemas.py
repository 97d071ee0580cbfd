"""Task request and response bodies (admin definitions, the shopper's list, check-in, referrals)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.fields import Id, patch_of
from tasks.models import CAP_PERIODS, STREAK_RESETS, TASK_KINDS

MAX_REWARD = 1_000_000


class Reward(Schema):
    points = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_REWARD))
    growth = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_REWARD))
    coupon_template_id = Id(load_default=None, allow_none=True)


def _no_reward() -> dict:
    return {"points": 0, "growth": 0, "coupon_template_id": None}


class Cap(Schema):
    period = fields.String(required=True, validate=validate.OneOf(CAP_PERIODS))
    count = fields.Integer(required=True, validate=validate.Range(min=1, max=1000))


class StreakBonus(Schema):
    day = fields.Integer(required=True, validate=validate.Range(min=1, max=366))
    reward = fields.Nested(Reward, required=True)


class Milestone(Schema):
    total = fields.Integer(required=True, validate=validate.Range(min=1, max=100_000))
    reward = fields.Nested(Reward, required=True)


class TaskIn(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9_-]{1,32}$",
                                                                  error="Lowercase letters, digits, - and _."))
    kind = fields.String(required=True, validate=validate.OneOf(TASK_KINDS))
    title = fields.String(required=True, validate=validate.Length(min=1, max=64))
    description = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=255))
    display_order = fields.Integer(load_default=0, validate=validate.Range(min=-10_000, max=10_000))
    active = fields.Boolean(load_default=True)
    reward = fields.Nested(Reward, load_default=_no_reward)
    cap = fields.Nested(Cap, load_default=lambda: {"period": "day", "count": 1},
                        metadata={"description": "check-in: day/1 and profile, first purchase: once/1, always"})
    starts_at = fields.AwareDateTime(load_default=None, allow_none=True)
    ends_at = fields.AwareDateTime(load_default=None, allow_none=True)
    tiers = fields.List(fields.String(validate=validate.Length(min=1, max=32)), load_default=list,
                        validate=validate.Length(max=20), metadata={"description": "tier codes; empty = all"})
    streak_bonuses = fields.List(fields.Nested(StreakBonus), load_default=list, validate=validate.Length(max=31))
    milestones = fields.List(fields.Nested(Milestone), load_default=list, validate=validate.Length(max=31))
    streak_reset = fields.String(load_default="never", validate=validate.OneOf(STREAK_RESETS))
    streak_cycle_days = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=366))
    invitee_reward = fields.Nested(Reward, load_default=None, allow_none=True)

    @validates_schema
    def _distinct_days(self, data: dict, **kwargs) -> None:
        for name, key in (("streak_bonuses", "day"), ("milestones", "total")):
            values = [item[key] for item in data.get(name) or []]
            if len(values) != len(set(values)):
                raise ValidationError(f"Each {key} may appear once.", name)
        cycle = data.get("streak_cycle_days")
        if cycle and any(b["day"] > cycle for b in data.get("streak_bonuses") or []):
            raise ValidationError("A bonus day cannot lie beyond the cycle.", "streak_bonuses")


# PATCH: any subset of the fields; code and kind never change.
TaskPatch = patch_of(TaskIn, "TaskPatch", exclude=("code", "kind"))


class TaskOut(Schema):
    id = fields.Integer()
    code = fields.String()
    kind = fields.String()
    title = fields.String()
    description = fields.String(allow_none=True)
    display_order = fields.Integer()
    active = fields.Boolean()
    reward = fields.Nested(Reward)
    cap = fields.Nested(Cap)
    starts_at = fields.DateTime(allow_none=True)
    ends_at = fields.DateTime(allow_none=True)
    tiers = fields.List(fields.String())
    streak_bonuses = fields.List(fields.Nested(StreakBonus))
    milestones = fields.List(fields.Nested(Milestone))
    streak_reset = fields.String()
    streak_cycle_days = fields.Integer(allow_none=True)
    invitee_reward = fields.Nested(Reward, allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class Progress(Schema):
    period = fields.String(metadata={"description": "2026-03-01 | 2026-W09 | 2026-03 | once"})
    done = fields.Integer()
    cap = fields.Integer()
    completed = fields.Boolean()
    streak = fields.Integer(metadata={"description": "check-in only"})


class MemberTask(Schema):
    code = fields.String()
    kind = fields.String()
    title = fields.String()
    description = fields.String(allow_none=True)
    display_order = fields.Integer()
    reward = fields.Nested(Reward)
    cap = fields.Nested(Cap)
    eligible = fields.Boolean(metadata={"description": "false when the member's tier may not take part"})
    progress = fields.Nested(Progress)


class MemberTaskList(Schema):
    items = fields.List(fields.Nested(MemberTask))


class PaidReward(Schema):
    points = fields.Integer()
    growth = fields.Integer()
    coupon_ids = fields.List(fields.String())


class PaidBonus(Schema):
    kind = fields.String(metadata={"description": "streak | milestone"})
    day = fields.Integer(metadata={"description": "the streak day or the cumulative total"})
    points = fields.Integer()
    growth = fields.Integer()


class NextBonus(Schema):
    day = fields.Integer()
    days_left = fields.Integer()
    reward = fields.Nested(Reward)


class CheckInOut(Schema):
    day = fields.Date()
    streak = fields.Integer()
    total = fields.Integer()
    reward = fields.Nested(PaidReward)
    bonuses = fields.List(fields.Nested(PaidBonus))
    next_bonus = fields.Nested(NextBonus, allow_none=True)


class CalendarArgs(Schema):
    month = fields.String(load_default=None, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="Use YYYY-MM."),
                          metadata={"description": "YYYY-MM; this business month when omitted"})


class CalendarOut(Schema):
    month = fields.String()
    days = fields.List(fields.Date())
    checked_in_today = fields.Boolean()
    streak = fields.Integer()
    total = fields.Integer()
    next_bonus = fields.Nested(NextBonus, allow_none=True)


def _printable(value: str) -> None:
    if not value.isprintable():
        raise ValidationError("Must not contain control characters.")


class CompleteIn(Schema):
    ref = fields.String(required=True, validate=[validate.Length(min=1, max=128), _printable,
                                                 validate.Regexp(r"^\S(.*\S)?$", error="No surrounding spaces.")],
                        metadata={"description": "what was shared or posted (page path, post id); rewards once"})


class CompletionProgress(Schema):
    period = fields.String()
    done = fields.Integer()
    cap = fields.Integer()


class CompleteOut(Schema):
    task_code = fields.String()
    ref = fields.String()
    new = fields.Boolean(metadata={"description": "false: this ref was rewarded before; nothing changed"})
    completed_at = fields.DateTime()
    reward = fields.Nested(PaidReward, metadata={"description": "what this request gave (nothing for a ref "
                                                               "reported before)"})
    rewarded_before = fields.Nested(PaidReward, allow_none=True,
                                    metadata={"description": "what the first report of this ref gave"})
    progress = fields.Nested(CompletionProgress)


class Referral(Schema):
    member_id = fields.Integer()
    nickname = fields.String(allow_none=True)
    avatar_url = fields.String(allow_none=True)
    joined_at = fields.DateTime()
    state = fields.String(metadata={
        "description": "joined | rewarded | capped (period cap reached) | not_eligible (tier) | no_task | "
                       "taken_back (the first purchase was refunded in full)"})
    points = fields.Integer()
    converted_at = fields.DateTime(allow_none=True)


class ReferralPage(Schema):
    items = fields.List(fields.Nested(Referral))
    next_cursor = fields.String(allow_none=True)
