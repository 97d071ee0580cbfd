from app.audit.models import AuditLog
from app.extensions import db
from coupons import issuing
from coupons.models import Coupon
from points.ledger import summary
from points.models import LedgerEntry
from tasks.models import TaskCompletion
from tests.conftest import bearer
from tests.coupons.helpers import no_such_template, template
from tests.tasks.helpers import CHECKIN, define

SHARE = {"code": "share", "kind": "share", "title": "分享好物", "reward": {"points": 2},
         "cap": {"period": "day", "count": 3}}


def _complete(client, token, code, ref):
    return client.post(f"/api/v1/tasks/{code}/complete", json={"ref": ref}, headers=bearer(token))


def test_share_rewards_within_daily_cap(client, login, marketing, at):
    define(client, marketing, **SHARE)
    token, member_id = login()
    at("2026-03-01T10:00:00+08:00")
    for n in range(3):
        response = _complete(client, token, "share", f"page-{n}")
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["new"] is True and response.get_json()["reward"]["points"] == 2
    capped = _complete(client, token, "share", "page-9")
    assert capped.status_code == 409 and capped.get_json()["error"]["code"] == "task_cap_reached"
    assert summary(member_id)["balance"] == 6
    at("2026-03-02T00:00:01+08:00")
    assert _complete(client, token, "share", "page-9").status_code == 200
    assert summary(member_id)["balance"] == 8
    keys = [e.business_key for e in LedgerEntry.query.order_by(LedgerEntry.id)]
    assert keys == [f"task:{c.id}" for c in TaskCompletion.query.order_by(TaskCompletion.id)]


def test_same_ref_never_rewards_twice(client, login, marketing, at):
    define(client, marketing, **SHARE)
    token, member_id = login()
    at("2026-03-01T10:00:00+08:00")
    first = _complete(client, token, "share", "page-1").get_json()
    again = _complete(client, token, "share", "page-1")
    assert again.status_code == 200 and again.get_json()["new"] is False
    assert again.get_json()["completed_at"] == first["completed_at"]
    assert first["reward"]["points"] == 2 and first["rewarded_before"] is None
    assert again.get_json()["reward"] == {"points": 0, "growth": 0, "coupon_ids": []}  # nothing given now
    assert again.get_json()["rewarded_before"] == first["reward"]
    at("2026-03-05T10:00:00+08:00")  # another day: still the same ref
    assert _complete(client, token, "share", "page-1").get_json()["new"] is False
    assert summary(member_id)["balance"] == 2 and TaskCompletion.query.count() == 1


def test_weekly_monthly_and_once_caps(client, login, marketing, at):
    define(client, marketing, code="post", kind="post", title="发图文", reward={"points": 10},
           cap={"period": "week", "count": 1})
    define(client, marketing, code="survey", kind="custom", title="问卷", reward={"growth": 5},
           cap={"period": "once", "count": 1})
    token, member_id = login()
    at("2026-03-02T10:00:00+08:00")  # Monday
    assert _complete(client, token, "post", "p1").status_code == 200
    at("2026-03-08T22:00:00+08:00")  # Sunday, same ISO week
    assert _complete(client, token, "post", "p2").status_code == 409
    at("2026-03-09T09:00:00+08:00")  # next Monday
    assert _complete(client, token, "post", "p2").status_code == 200
    assert _complete(client, token, "survey", "s1").status_code == 200
    at("2026-04-20T09:00:00+08:00")
    assert _complete(client, token, "survey", "s2").status_code == 409
    from members.models import Member

    assert Member.query.get(member_id).growth == 5


def test_bad_completions(client, login, marketing, tiers, at):
    define(client, marketing, **SHARE)
    define(client, marketing, **CHECKIN)
    define(client, marketing, code="gold-share", kind="share", title="x", reward={"points": 1}, tiers=["gold"])
    define(client, marketing, code="old", kind="share", title="x", reward={"points": 1}, active=False)
    define(client, marketing, code="later", kind="share", title="x", reward={"points": 1},
           starts_at="2099-01-01T00:00:00+08:00")
    token, member_id = login()
    cases = [
        ("nope", {"ref": "a"}, 404, "task_not_found"),
        ("share", {"ref": ""}, 422, "validation_error"),
        ("share", {"ref": "   "}, 422, "validation_error"),
        ("share", {"ref": "x" * 129}, 422, "validation_error"),
        ("share", {"ref": "a\u0000b"}, 422, "invalid_characters"),  # refused for every route (app.inbound)
        ("share", {"ref": "a\nb"}, 422, "validation_error"),
        ("share", {}, 422, "validation_error"),
        ("share", {"ref": 5}, 422, "validation_error"),
        ("share", {"ref": "a", "points": 100}, 422, "validation_error"),
        ("checkin", {"ref": "a"}, 409, "task_not_self_reported"),
        ("gold-share", {"ref": "a"}, 403, "tier_not_allowed"),
        ("old", {"ref": "a"}, 409, "task_inactive"),
        ("later", {"ref": "a"}, 409, "task_inactive"),
    ]
    for code, body, status, error in cases:
        response = client.post(f"/api/v1/tasks/{code}/complete", json=body, headers=bearer(token))
        assert response.status_code == status, (code, body, response.get_json())
        assert response.get_json()["error"]["code"] == error, (code, body)
    assert TaskCompletion.query.count() == 0 and summary(member_id)["balance"] == 0
    assert client.post("/api/v1/tasks/share/complete", json={"ref": "a"}).status_code == 401


def test_task_list_shows_progress(client, login, marketing, at, tiers):
    define(client, marketing, **SHARE, display_order=2)
    define(client, marketing, **CHECKIN, display_order=1)
    define(client, marketing, code="old", kind="share", title="x", reward={"points": 1}, active=False)
    define(client, marketing, code="gold-post", kind="post", title="x", reward={"points": 1}, tiers=["gold"],
           display_order=3)
    token, _ = login()
    at("2026-03-01T10:00:00+08:00")
    _complete(client, token, "share", "a")
    client.post("/api/v1/tasks/checkin", headers=bearer(token))
    items = client.get("/api/v1/tasks", headers=bearer(token)).get_json()["items"]
    assert [(i["code"], i["eligible"]) for i in items] == [("checkin", True), ("share", True), ("gold-post", False)]
    assert items[0]["progress"] == {"period": "2026-03-01", "done": 1, "cap": 1, "completed": True, "streak": 1}
    assert items[1]["progress"] == {"period": "2026-03-01", "done": 1, "cap": 3, "completed": False}
    at("2026-03-02T10:00:00+08:00")
    items = client.get("/api/v1/tasks", headers=bearer(token)).get_json()["items"]
    assert items[0]["progress"]["done"] == 0 and items[0]["progress"]["streak"] == 1
    assert items[1]["progress"]["done"] == 0


def test_coupon_and_growth_rewards(client, login, marketing):
    t = template(claimable=False)
    define(client, marketing, code="share", kind="share", title="x", reward={"growth": 3, "coupon_template_id": t.id})
    token, member_id = login()
    _, other = login("bob")
    issuing.grant(other, t.id, key="earlier", reason="test")  # so the coupon's id is not the completion's
    db.session.commit()
    body = _complete(client, token, "share", "a").get_json()
    coupon = Coupon.query.filter_by(member_id=member_id).one()
    assert body["reward"] == {"points": 0, "growth": 3, "coupon_ids": [str(coupon.id)]}
    completion = TaskCompletion.query.one()
    assert completion.coupon_id == str(coupon.id)
    assert (coupon.member_id, coupon.template_id, coupon.grant_key, coupon.source, coupon.reason, coupon.state) == (
        member_id, t.id, f"task:{completion.id}", "grant", "task", "available")
    from members.models import Member

    assert Member.query.get(member_id).growth == 3


def test_failed_coupon_reward_changes_nothing(client, login, marketing):
    t = template(claimable=False, stock=0)
    define(client, marketing, code="share", kind="share", title="x", reward={"points": 5, "coupon_template_id": t.id})
    token, member_id = login()
    response = _complete(client, token, "share", "a")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "coupon_out_of_stock"
    assert TaskCompletion.query.count() == 0 and summary(member_id)["balance"] == 0
    assert Coupon.query.count() == 0


def test_rate_limited_per_member(app, client, login, marketing):
    define(client, marketing, **SHARE)
    token, _ = login()
    other, _ = login("bob")
    app.config["TASKS_RATE_LIMIT"] = "3/minute"
    try:
        statuses = [client.get("/api/v1/tasks", headers=bearer(token)).status_code for _ in range(4)]
        limited = client.post("/api/v1/tasks/share/complete", json={"ref": "x"}, headers=bearer(token))
        other_status = client.get("/api/v1/tasks", headers=bearer(other)).status_code
    finally:
        app.config.pop("TASKS_RATE_LIMIT")
    assert statuses == [200, 200, 200, 429]
    assert limited.status_code == 429 and limited.get_json()["error"]["code"] == "rate_limited"
    assert other_status == 200
    assert TaskCompletion.query.count() == 0


def test_admin_crud_is_audited(client, marketing, tiers):
    created = define(client, marketing, **CHECKIN, tiers=["silver", "gold"])
    assert created["cap"] == {"period": "day", "count": 1} and created["streak_reset"] == "never"
    patched = client.patch(f"/api/v1/admin/tasks/{created['id']}",
                           json={"reward": {"points": 8}, "streak_reset": "weekly"}, headers=marketing)
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["reward"]["points"] == 8 and patched.get_json()["streak_reset"] == "weekly"
    assert client.get(f"/api/v1/admin/tasks/{created['id']}", headers=marketing).get_json()["reward"]["points"] == 8
    assert len(client.get("/api/v1/admin/tasks", headers=marketing).get_json()["items"]) == 1
    logs = AuditLog.query.order_by(AuditLog.id).all()
    assert [log.action for log in logs] == ["task.create", "task.update"]
    assert logs[1].before["reward"]["points"] == 5 and logs[1].after["reward"]["points"] == 8
    profile = define(client, marketing, code="profile", kind="profile", title="完善资料", reward={"points": 20},
                     cap={"period": "day", "count": 5})
    assert profile["cap"] == {"period": "once", "count": 1}


def test_bad_definitions_are_refused(client, marketing, login, tiers):
    base = {"code": "t1", "kind": "share", "title": "x", "reward": {"points": 1}}
    cases = [
        ({**base, "kind": "dance"}, "kind"),
        ({**base, "code": "Has Space"}, "code"),
        ({**base, "reward": {"points": -1}}, "reward.points"),
        ({**base, "reward": {"points": 10**9}}, "reward.points"),
        ({**base, "cap": {"period": "year", "count": 1}}, "cap.period"),
        ({**base, "cap": {"period": "day", "count": 0}}, "cap.count"),
        ({**base, "tiers": ["platinum"]}, "tiers"),
        ({**base, "streak_bonuses": [{"day": 3, "reward": {"points": 1}}]}, "streak_bonuses"),
        ({**base, "invitee_reward": {"points": 5}}, "invitee_reward"),
        ({**base, "starts_at": "2026-03-02T00:00:00+08:00", "ends_at": "2026-03-01T00:00:00+08:00"}, "ends_at"),
        ({**CHECKIN, "streak_bonuses": [{"day": 3, "reward": {}}, {"day": 3, "reward": {}}]}, "streak_bonuses"),
        ({**CHECKIN, "streak_cycle_days": 5}, "streak_bonuses"),
        ({**CHECKIN, "streak_reset": "daily"}, "streak_reset"),
        ({**base, "unknown": 1}, "unknown"),
    ]
    for body, field in cases:
        response = client.post("/api/v1/admin/tasks", json=body, headers=marketing)
        assert response.status_code == 422, (body, response.get_json())
        assert field in response.get_json()["error"]["fields"], (body, response.get_json())
    define(client, marketing, **base)
    duplicate = client.post("/api/v1/admin/tasks", json=base, headers=marketing)
    assert duplicate.status_code == 409 and duplicate.get_json()["error"]["code"] == "duplicate_code"
    define(client, marketing, **CHECKIN)
    second = client.post("/api/v1/admin/tasks", json={**CHECKIN, "code": "checkin2"}, headers=marketing)
    assert second.status_code == 409 and second.get_json()["error"]["code"] == "checkin_task_exists"
    assert client.patch("/api/v1/admin/tasks/999", json={"title": "y"}, headers=marketing).status_code == 404
    task_id = client.get("/api/v1/admin/tasks", headers=marketing).get_json()["items"][-1]["id"]
    assert client.patch(f"/api/v1/admin/tasks/{task_id}", json={"kind": "post"}, headers=marketing).status_code == 422
    token, _ = login()
    assert client.post("/api/v1/admin/tasks", json=base, headers=bearer(token)).status_code == 403
    assert AuditLog.query.count() == 2


def test_unknown_coupon_template_is_refused(client, marketing):
    t = template(claimable=False)
    bonus = {**CHECKIN, "streak_bonuses": [{"day": 7, "reward": {"coupon_template_id": no_such_template()}}]}
    bad = client.post("/api/v1/admin/tasks", json=bonus, headers=marketing)
    assert bad.status_code == 422 and "streak_bonuses" in bad.get_json()["error"]["fields"]
    good = {**SHARE, "reward": {"points": 1, "coupon_template_id": t.id}}
    assert client.post("/api/v1/admin/tasks", json=good, headers=marketing).status_code == 201
    assert [log.action for log in AuditLog.query.filter_by(target_type="task")] == ["task.create"]
