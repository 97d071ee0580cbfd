from datetime import date

from app.extensions import db
from points.ledger import summary
from points.models import LedgerEntry
from tasks.models import CheckIn
from tests.conftest import bearer
from tests.tasks.helpers import CHECKIN, define


def _checkin(client, token):
    return client.post("/api/v1/tasks/checkin", headers=bearer(token))


def test_checkin_rewards_and_twice_a_day_is_409(client, login, marketing, at):
    define(client, marketing, **CHECKIN)
    token, member_id = login()
    at("2026-03-01T10:00:00+08:00")
    first = _checkin(client, token)
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert body["streak"] == 1 and body["day"] == "2026-03-01" and body["reward"]["points"] == 5
    assert body["next_bonus"] == {"day": 3, "days_left": 2, "reward": {"points": 10, "growth": 0,
                                                                       "coupon_template_id": None}}
    again = _checkin(client, token)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_checked_in"
    assert summary(member_id)["balance"] == 5
    assert CheckIn.query.count() == 1


def test_business_midnight_splits_days(client, login, marketing, at):
    define(client, marketing, **CHECKIN)
    token, member_id = login()
    at("2026-03-01T23:59:59+08:00")
    assert _checkin(client, token).get_json()["day"] == "2026-03-01"
    at("2026-03-02T00:00:01+08:00")
    second = _checkin(client, token).get_json()
    assert second["day"] == "2026-03-02" and second["streak"] == 2


def test_streak_bonuses_and_milestone(client, login, marketing, at):
    define(client, marketing, **CHECKIN)
    token, member_id = login()
    points = []
    for day in range(1, 11):
        at(f"2026-03-{day:02d}T09:00:00+08:00")
        body = _checkin(client, token).get_json()
        assert body["streak"] == day
        points.append(body["reward"]["points"])
    assert points == [5, 5, 15, 5, 5, 5, 55, 5, 5, 105]
    assert summary(member_id)["balance"] == sum(points)
    keys = {e.business_key for e in LedgerEntry.query.filter_by(member_id=member_id)}
    assert len(keys) == 13  # 10 days + day-3 + day-7 bonus + milestone, each its own keyed grant


def test_missed_day_breaks_streak(client, login, marketing, at):
    define(client, marketing, **CHECKIN)
    token, _ = login()
    at("2026-03-01T09:00:00+08:00")
    _checkin(client, token)
    at("2026-03-03T09:00:00+08:00")
    assert _checkin(client, token).get_json()["streak"] == 1


def test_streak_survives_month_boundary_when_never_reset(client, login, marketing, at):
    define(client, marketing, **CHECKIN)
    token, _ = login()
    at("2026-03-31T09:00:00+08:00")
    _checkin(client, token)
    at("2026-04-01T09:00:00+08:00")
    assert _checkin(client, token).get_json()["streak"] == 2


def test_monthly_rule_resets_on_the_first(client, login, marketing, at):
    define(client, marketing, **{**CHECKIN, "streak_reset": "monthly"})
    token, _ = login()
    at("2026-03-31T09:00:00+08:00")
    _checkin(client, token)
    at("2026-04-01T09:00:00+08:00")
    assert _checkin(client, token).get_json()["streak"] == 1


def test_weekly_rule_resets_on_monday(client, login, marketing, at):
    define(client, marketing, **{**CHECKIN, "streak_reset": "weekly"})
    token, _ = login()
    at("2026-03-08T09:00:00+08:00")  # a Sunday
    _checkin(client, token)
    at("2026-03-09T09:00:00+08:00")  # Monday
    assert _checkin(client, token).get_json()["streak"] == 1
    at("2026-03-10T09:00:00+08:00")
    assert _checkin(client, token).get_json()["streak"] == 2


def test_cycle_repeats_bonus_days(client, login, marketing, at):
    define(client, marketing, **{**CHECKIN, "milestones": [], "streak_cycle_days": 7})
    token, _ = login()
    bonus_days = []
    for day in range(1, 11):
        at(f"2026-03-{day:02d}T09:00:00+08:00")
        body = _checkin(client, token).get_json()
        if body["bonuses"]:
            bonus_days.append((day, body["bonuses"][0]["day"]))
    assert bonus_days == [(3, 3), (7, 7), (10, 3)]


def test_calendar(client, login, marketing, at):
    define(client, marketing, **CHECKIN)
    token, _ = login()
    for moment in ("2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"):
        at(f"{moment}T09:00:00+08:00")
        _checkin(client, token)
    at("2026-03-03T08:00:00+08:00")
    response = client.get("/api/v1/tasks/checkin/calendar?month=2026-03", headers=bearer(token))
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["days"] == ["2026-03-01", "2026-03-02"]
    assert body["streak"] == 4 and body["total"] == 4 and body["checked_in_today"] is False
    assert body["next_bonus"]["day"] == 7 and body["next_bonus"]["days_left"] == 3
    feb = client.get("/api/v1/tasks/checkin/calendar?month=2026-02", headers=bearer(token)).get_json()
    assert feb["days"] == ["2026-02-27", "2026-02-28"]
    at("2026-03-05T08:00:00+08:00")  # missed the 3rd and 4th: the streak is gone
    assert client.get("/api/v1/tasks/checkin/calendar?month=2026-03", headers=bearer(token)).get_json()["streak"] == 0
    for bad in ("2026-13", "2026-3", "march", ""):
        response = client.get(f"/api/v1/tasks/checkin/calendar?month={bad}", headers=bearer(token))
        assert response.status_code == 422 and "month" in response.get_json()["error"]["fields"], bad
    this_month = client.get("/api/v1/tasks/checkin/calendar", headers=bearer(token))  # no month: this one
    assert this_month.status_code == 200 and this_month.get_json()["month"] == "2026-03"
    assert this_month.get_json()["days"] == ["2026-03-01", "2026-03-02"]


def test_no_checkin_task_is_409_and_changes_nothing(client, login):
    token, member_id = login()
    response = _checkin(client, token)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "task_inactive"
    assert CheckIn.query.count() == 0


def test_unique_member_day_in_the_database(login, marketing, client):
    define(client, marketing, **CHECKIN)
    _, member_id = login()
    from tasks.models import TaskDefinition

    task_id = TaskDefinition.query.one().id
    import pytest
    from sqlalchemy.exc import IntegrityError

    db.session.add(CheckIn(member_id=member_id, task_id=task_id, day=date(2026, 3, 1), streak=1, total=1))
    db.session.commit()
    db.session.add(CheckIn(member_id=member_id, task_id=task_id, day=date(2026, 3, 1), streak=1, total=1))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_checkin_respects_tiers_and_dates(client, login, marketing, tiers, at):
    task = define(client, marketing, **{**CHECKIN, "tiers": ["gold"]})
    token, member_id = login()
    refused = _checkin(client, token)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "tier_not_allowed"
    client.patch(f"/api/v1/admin/tasks/{task['id']}", json={"tiers": [], "ends_at": "2026-03-01T00:00:00+08:00"},
                 headers=marketing)
    at("2026-03-01T10:00:00+08:00")
    ended = _checkin(client, token)
    assert ended.status_code == 409 and ended.get_json()["error"]["code"] == "task_inactive"
    assert CheckIn.query.count() == 0 and summary(member_id)["balance"] == 0


def test_two_growth_rewards_in_one_check_in_change_the_tier_once(client, login, marketing, at, tiers):
    """The base reward lifts the member to 高级; the milestone's growth, paid in the same transaction, must
    see that (still unflushed) tier change rather than the tier before it, or it would upgrade again."""
    from members.models import Member
    from tiers.models import TierChange

    define(client, marketing, code="checkin", kind="checkin", title="每日签到", reward={"growth": 1000},
           milestones=[{"total": 1, "reward": {"growth": 100}}])
    token, member_id = login()
    at("2026-03-01T10:00:00+08:00")
    response = _checkin(client, token)
    assert response.status_code == 200, response.get_json()
    member = db.session.get(Member, member_id)
    assert (member.growth, member.tier.code) == (1100, "silver")
    changes = db.session.scalars(db.select(TierChange).where(TierChange.member_id == member_id)).all()
    assert [(c.from_tier_id, c.to_tier_id) for c in changes] == [(tiers["normal"].id, tiers["silver"].id)]
