"""Targeted issues: audience, batches, idempotency, stock, progress, the RQ hand-off."""
from __future__ import annotations

from datetime import date

from rq import Queue

from app.audit.models import AuditLog
from app.extensions import db
from app.redis_store import get_redis
from coupons import issuing
from coupons.models import Coupon, CouponIssue, CouponTemplate
from marketing import issues, jobs
from members.models import MemberTag
from tests.coupons.helpers import member, members, template


def _post(client, marketing, template_id: int, body: dict):
    return client.post(f"/api/v1/admin/coupon-templates/{template_id}/issue", json=body, headers=marketing)


def test_issue_by_tier_enqueues_a_job_and_reports_progress(client, marketing, tiers):
    t = template(claimable=False)
    silver = members(5, tier_id=tiers["silver"].id)
    members(3, tier_id=tiers["normal"].id)
    response = _post(client, marketing, t.id, {"audience": {"tiers": ["silver"]}, "key": "march-silver"})
    assert response.status_code == 202, response.get_json()
    issue = response.get_json()
    assert issue["state"] == "queued" and issue["issued"] == 0
    queue = Queue("grants", connection=get_redis())
    assert queue.count == 1 and queue.jobs[0].func_name == "marketing.jobs.issue_coupons"
    assert AuditLog.query.filter_by(action="coupon_template.issue").count() == 1
    assert jobs.issue_coupons(**queue.jobs[0].kwargs) == {"scanned": 5, "changed": 5, "skipped": 0, "failed": 0}
    progress = client.get(f"/api/v1/admin/coupon-templates/{t.id}/issues/{issue['id']}", headers=marketing)
    assert progress.status_code == 200
    assert {k: progress.get_json()[k] for k in ("state", "issued", "skipped", "failed")} == {
        "state": "done", "issued": 5, "skipped": 0, "failed": 0}
    assert sorted(c.member_id for c in Coupon.query.all()) == silver
    assert all(c.source == "issue" and len(c.code) == 20 for c in Coupon.query.all())
    assert len({c.code for c in Coupon.query.all()}) == 5
    db.session.expire_all()
    assert db.session.get(CouponTemplate, t.id).issued_count == 5
    again = _post(client, marketing, t.id, {"audience": {"tiers": ["silver"]}, "key": "march-silver"})
    assert again.status_code == 202 and again.get_json()["id"] == issue["id"] and queue.count == 1
    other = _post(client, marketing, t.id, {"audience": {"tiers": ["gold"]}, "key": "march-silver"})
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "issue_key_reused"


def test_a_rerun_after_a_crash_issues_nobody_twice(tiers):
    t = template(claimable=False)
    ids = members(7)
    issue, _ = issues.create_issue(t.id, {"member_ids": ids}, "k1", None)
    assert issues.run_issue(issue.id, batch_size=3)["changed"] == 7
    issue = db.session.get(CouponIssue, issue.id)
    issue.state, issue.last_member_id = "running", 0  # as if the worker died before saving its progress
    db.session.commit()
    counts = issues.run_issue(issue.id, batch_size=3)
    assert counts == {"scanned": 7, "changed": 0, "skipped": 7, "failed": 0}
    assert Coupon.query.count() == 7
    assert issues.run_issue(issue.id)["scanned"] == 0  # done is done


def test_audiences_tags_birthday_month_and_all(tiers):
    t = template(claimable=False, per_member_limit=5)
    may = member(birthday=date(1990, 5, 20))
    member(birthday=date(1990, 6, 1))
    tagged = member()
    db.session.add(MemberTag(member_id=tagged.id, tag="coffee-lover"))
    db.session.commit()
    by_month, _ = issues.create_issue(t.id, {"birthday_month": 5}, None, None)
    issues.run_issue(by_month.id)
    db.session.add(MemberTag(member_id=may.id, tag="tea-lover"))  # any of the tags: the May member had one
    db.session.commit()
    by_tag, _ = issues.create_issue(t.id, {"tags": ["coffee-lover", "tea-lover"]}, None, None)
    issues.run_issue(by_tag.id)
    assert {(c.member_id, c.issue_id) for c in Coupon.query.all()} == {
        (may.id, by_month.id), (may.id, by_tag.id), (tagged.id, by_tag.id)}
    everyone, _ = issues.create_issue(t.id, {"all_members": True}, None, None)
    assert issues.run_issue(everyone.id)["changed"] == 3


def test_stock_runs_out_mid_issue():
    t = template(claimable=False, stock=4)
    ids = members(6)
    issue, _ = issues.create_issue(t.id, {"member_ids": ids}, None, None)
    assert issues.run_issue(issue.id, batch_size=5) == {"scanned": 6, "changed": 4, "skipped": 0, "failed": 2}
    issue = db.session.get(CouponIssue, issue.id)
    assert (issue.issued, issue.failed, issue.error) == (4, 2, "out of stock")


def test_bad_issue_requests(client, marketing, staff, tiers):
    t = template(claimable=False)
    stopped = template(claimable=False, active=False)
    cases = [
        (t.id, {"audience": {}}, 422, "audience_empty"),
        (t.id, {"audience": {"tiers": ["platinum"]}}, 422, "unknown_tier"),
        (t.id, {"audience": {"birthday_month": 13}}, 422, "validation_error"),
        (t.id, {"audience": {"member_ids": [0]}}, 422, "validation_error"),
        (t.id, {"audience": {"member_ids": ["1"]}}, 422, "validation_error"),
        (t.id, {"audience": {"all_members": True, "tiers": ["gold"]}}, 422, "validation_error"),
        (t.id, {"audience": {"tiers": ["gold"]}, "extra": 1}, 422, "validation_error"),
        (t.id, {}, 422, "validation_error"),
        (stopped.id, {"audience": {"tiers": ["gold"]}}, 409, "coupon_template_stopped"),
        (999, {"audience": {"tiers": ["gold"]}}, 404, "coupon_template_not_found"),
    ]
    for template_id, body, status, code in cases:
        response = _post(client, marketing, template_id, body)
        assert (response.status_code, response.get_json()["error"]["code"]) == (status, code), body
    assert CouponIssue.query.count() == 0
    assert _post(client, staff, t.id, {"audience": {"tiers": ["gold"]}}).status_code == 403
    assert client.get(f"/api/v1/admin/coupon-templates/{stopped.id}/issues/1", headers=marketing).status_code == 404


def test_revoke_is_audited(client, marketing):
    coupon = issuing.grant(member().id, template().id, key="k", reason="t")
    db.session.commit()
    response = client.post(f"/api/v1/admin/coupons/{coupon.id}/revoke", json={"reason": "mistake"}, headers=marketing)
    assert response.status_code == 200 and response.get_json()["state"] == "revoked"
    again = client.post(f"/api/v1/admin/coupons/{coupon.id}/revoke", json={"reason": "mistake"}, headers=marketing)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "coupon_not_revocable"
    assert AuditLog.query.filter_by(action="coupon.revoke").count() == 1
    assert client.post(f"/api/v1/admin/coupons/{coupon.id}/revoke", json={}, headers=marketing).status_code == 422


def test_unknown_tags_are_refused_and_nothing_is_written(client, marketing):
    t = template(claimable=False)
    db.session.add(MemberTag(member_id=member().id, tag="coffee-lover"))
    db.session.commit()
    for tags in (["no-such-tag"], ["coffee-lover", "no-such-tag"]):
        response = _post(client, marketing, t.id, {"audience": {"tags": tags}, "key": "k"})
        assert response.status_code == 422, response.get_json()
        error = response.get_json()["error"]
        assert error["code"] == "unknown_tag" and "no-such-tag" in error["fields"]["audience.tags"][0]
    assert CouponIssue.query.count() == 0
    assert AuditLog.query.filter_by(action="coupon_template.issue").count() == 0
    assert Queue("grants", connection=get_redis()).count == 0
    assert _post(client, marketing, t.id, {"audience": {"tags": ["coffee-lover"]}}).status_code == 202
