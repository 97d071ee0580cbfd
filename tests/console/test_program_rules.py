"""Program pages for earn rules (the till's shadowed warning shown on the page and in the API) and tasks."""
from __future__ import annotations

from app.audit.models import AuditLog
from tasks.models import TaskDefinition
from tests.console.helpers import count, post, sign_in
from till.models import EarnRule

RULES = "/console/program/earn-rules"
TASKS = "/console/program/tasks"


def _rule_form(**changes) -> dict:
    """A stackable bakery rule inside the demo's exclusive 开业季 (2026-03-05 .. 2026-04-04, priority 200)."""
    return {"name": "烘焙周末加倍", "percent": "200", "categories": "bakery", "start_date": "2026-03-07",
            "end_date": "2026-03-08", "priority": "10", "stackable": "1", "active": "1", **changes}


def _api(client) -> dict:
    """The demo's marketing operator's bearer token, for the admin API."""
    body = client.post("/api/v1/auth/operator-login", json={"username": "marketing", "password": "demo1234"})
    return {"Authorization": f"Bearer {body.get_json()['token']}"}


def test_a_new_rule_shadowed_by_an_exclusive_rule_above_is_saved_with_a_warning(client, program):
    marketing = _api(client)
    sign_in(client, "marketing")
    response = post(client, RULES, _rule_form(), page=RULES)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "已创建积分规则" in page
    assert 'class="alert alert-warning py-2 mb-1 shadow-warning"' in page and "开业季三倍积分" in page
    rule = EarnRule.query.filter_by(name="烘焙周末加倍").one()
    assert 'rule-shadowed' in client.get(RULES).get_data(as_text=True)  # the list keeps warning
    listed = client.get("/api/v1/admin/earn-rules", headers=marketing).get_json()["items"]
    warnings = {item["id"]: item["warnings"] for item in listed}
    opening = EarnRule.query.filter_by(name="开业季三倍积分").one()
    assert [w["rule_id"] for w in warnings[rule.id]] == [opening.id]
    assert warnings[opening.id] == []
    assert client.get(f"/api/v1/admin/earn-rules/{rule.id}", headers=marketing).get_json()["warnings"][0][
        "rule_name"] == "开业季三倍积分"
    # Ranked above the exclusive rule, it applies: the warning goes.
    saved = post(client, f"{RULES}/{rule.id}", _rule_form(priority="300"), page=RULES)
    assert saved.status_code == 200 and "shadow-warning" not in saved.get_data(as_text=True)
    assert EarnRule.query.filter_by(name="烘焙周末加倍").one().priority == 300


def test_a_rule_the_exclusive_rule_does_not_cover_has_no_warning(client, program):
    sign_in(client, "marketing")
    response = post(client, RULES, _rule_form(end_date="2026-05-01"), page=RULES)  # runs past 开业季
    assert response.status_code == 200 and "shadow-warning" not in response.get_data(as_text=True)


def test_bad_rules_are_refused_at_their_input_and_nothing_is_saved(client, program):
    sign_in(client, "marketing")
    rules, audited = count(EarnRule), count(AuditLog)
    for changes, field in (({"percent": "50"}, "percent"), ({"percent": "x"}, "percent"),
                           ({"categories": "nope"}, "categories"), ({"end_date": "2026-03-01"}, "end_date"),
                           ({"tiers": "platinum"}, "tiers"), ({"cap_per_day": "-1"}, "cap_per_day"),
                           ({"priority": "99999999999"}, "priority")):
        response = post(client, RULES, _rule_form(**changes), page=RULES)
        assert response.status_code == 422, changes
        assert f'data-error-for="{field}"' in response.get_data(as_text=True), changes
    assert count(EarnRule) == rules and count(AuditLog) == audited


def test_an_edit_of_a_missing_rule_is_a_404(client, program):
    sign_in(client, "marketing")
    assert client.get(f"{RULES}/999999").status_code == 404


def test_tasks_are_listed_and_a_share_task_is_created_with_its_cap(client, program):
    sign_in(client, "marketing")
    assert "每日签到" in client.get(TASKS).get_data(as_text=True)
    response = post(client, TASKS, {"code": "post-video", "kind": "post", "title": "发视频", "cap.period": "week",
                                    "cap.count": "2", "reward.points": "30", "active": "1"}, page=TASKS)
    assert response.status_code == 302
    task = TaskDefinition.query.filter_by(code="post-video").one()
    assert (task.cap_period, task.cap_count, task.reward["points"]) == ("week", 2, 30)
    taken = post(client, TASKS, {"code": "post-video", "kind": "post", "title": "又一个", "cap.period": "day",
                                 "cap.count": "1", "active": "1"}, page=TASKS)
    assert taken.status_code == 422 and "该编码已被使用" in taken.get_data(as_text=True)


def test_check_in_streak_bonuses_are_edited_and_checked(client, program):
    sign_in(client, "marketing")
    checkin = TaskDefinition.query.filter_by(code="daily-checkin").one()
    page = f"{TASKS}/{checkin.id}"
    assert "连签奖励" in client.get(page).get_data(as_text=True)
    form = [("title", "每日签到"), ("cap.period", "day"), ("cap.count", "1"), ("reward.points", "5"), ("active", "1"),
            ("streak_reset", "never"), ("streak_cycle_days", "7"),
            ("bonus.day", "3"), ("bonus.points", "10"), ("bonus.growth", ""),
            ("bonus.day", "7"), ("bonus.points", "80"), ("bonus.growth", "5"),
            ("bonus.day", ""), ("bonus.points", ""), ("bonus.growth", "")]
    assert post(client, page, form, page=page).status_code == 302
    checkin = TaskDefinition.query.filter_by(code="daily-checkin").one()
    assert checkin.streak_bonuses == [{"day": 3, "reward": {"points": 10, "growth": 0, "coupon_template_id": None}},
                                      {"day": 7, "reward": {"points": 80, "growth": 5, "coupon_template_id": None}}]
    assert checkin.milestones  # not on the form: kept
    beyond = [*form[:7], ("bonus.day", "9"), ("bonus.points", "10"), ("bonus.growth", "")]  # past the 7-day cycle
    refused = post(client, page, beyond, page=page)
    assert refused.status_code == 422 and 'data-error-for="streak_bonuses"' in refused.get_data(as_text=True)
    twice = [*form[:7], ("bonus.day", "3"), ("bonus.points", "1"), ("bonus.growth", ""),
             ("bonus.day", "3"), ("bonus.points", "2"), ("bonus.growth", "")]
    assert post(client, page, twice, page=page).status_code == 422
    assert TaskDefinition.query.filter_by(code="daily-checkin").one().streak_bonuses == checkin.streak_bonuses


def test_an_invite_task_rewards_the_invitee_and_a_missing_coupon_is_refused(client, program):
    sign_in(client, "marketing")
    invite = TaskDefinition.query.filter_by(code="invite").one()
    page = f"{TASKS}/{invite.id}"
    form = {"title": "邀请好友", "cap.period": "month", "cap.count": "10", "reward.points": "100", "active": "1",
            "invitee_reward.points": "30"}
    assert post(client, page, form, page=page).status_code == 302
    assert TaskDefinition.query.filter_by(code="invite").one().invitee_reward["points"] == 30
    missing = post(client, page, {**form, "reward.coupon_template_id": "999999"}, page=page)
    assert missing.status_code == 422 and "所选优惠券模板不存在" in missing.get_data(as_text=True)
    assert TaskDefinition.query.filter_by(code="invite").one().reward.get("coupon_template_id") is None
