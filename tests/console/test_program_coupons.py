"""Program pages for coupon templates (create, edit what may change, stop) and targeted issues with their
progress bar, driven through the real RQ job the way the worker runs it."""
from __future__ import annotations

import re

from rq import Queue, SimpleWorker

from app.extensions import db
from app.redis_store import get_redis
from coupons.models import Coupon, CouponIssue, CouponTemplate
from marketing import issues, tags
from tests.console.helpers import count, post, sign_in
from tests.coupons.helpers import members

COUPONS = "/console/program/coupons"
NEW = {"title": "春季满50减10", "kind": "amount_off", "amount_off": "10", "threshold": "50", "scope.kind": "all",
       "validity.kind": "relative", "validity.days": "30", "per_member_limit": "1"}


def _template(code: str) -> CouponTemplate:
    db.session.expire_all()
    return CouponTemplate.query.filter_by(code=code).one()


def work() -> None:
    """Run the queued issue jobs as `rq worker grants` would, in this process."""
    SimpleWorker([Queue("grants", connection=get_redis())], connection=get_redis()).work(burst=True,
                                                                                       with_scheduler=False)


def _tagged(n: int, tag: str) -> list[int]:
    ids = members(n)
    for member_id in ids:
        tags.add_manual_tag(member_id, tag)
    return ids


def test_marketing_creates_a_template_in_yuan(client, program):
    sign_in(client, "marketing")
    response = post(client, COUPONS, {**NEW, "code": "SPRING10"}, page=COUPONS)
    assert response.status_code == 302
    spring = _template("SPRING10")
    assert (spring.amount_off, spring.threshold, spring.valid_days, spring.active) == (1000, 5000, 30, True)
    assert "春季满50减10" in client.get(COUPONS).get_data(as_text=True)


def test_template_refusals_are_shown_at_their_input(client, program):
    sign_in(client, "marketing")
    templates = count(CouponTemplate)
    for changes, field in (({"threshold": "5"}, "threshold"), ({"amount_off": ""}, "amount_off"),
                           ({"amount_off": "1.001"}, "amount_off"), ({"kind": "percent_off"}, "percent"),
                           ({"validity.days": ""}, "validity.days"), ({"scope.kind": "skus"}, "scope.values"),
                           ({"scope.kind": "skus", "scope.values": "NOPE"}, "scope.values"),
                           ({"per_member_limit": "0"}, "per_member_limit"), ({"stock": "-1"}, "stock"),
                           ({"audience.tags": "没人有的标签"}, "audience.tags"),
                           ({"validity.kind": "fixed", "validity.start": "2026-04-01", "validity.end": "2026-03-01"},
                            "validity.end")):
        response = post(client, COUPONS, {**NEW, **changes}, page=COUPONS)
        assert response.status_code == 422, changes
        assert f'data-error-for="{field}"' in response.get_data(as_text=True), changes
    assert count(CouponTemplate) == templates


def test_issued_terms_are_frozen_on_the_page_the_rest_still_edits_and_stop_works(client, program):
    sign_in(client, "marketing")
    new20 = _template("NEW20")
    page = f"{COUPONS}/{new20.id}"
    assert 'id="terms-frozen"' not in client.get(page).get_data(as_text=True)
    issues.request_issue(new20.id, {"member_ids": members(1)}, "freeze", None)
    work()
    html = client.get(page).get_data(as_text=True)
    assert 'id="terms-frozen"' in html and re.search(r'<fieldset[^>]*id="coupon-terms" disabled', html)
    # The browser does not send disabled inputs: the page saves the rest.
    saved = post(client, page, {"title": "新人礼（新版）", "per_member_limit": "1", "stock": "100000",
                                "claimable": "1"}, page=page)
    assert saved.status_code == 302 and _template("NEW20").title == "新人礼（新版）"
    assert _template("NEW20").amount_off == 2000
    stop = post(client, f"{page}/active", {}, page=page)
    assert stop.status_code == 302 and _template("NEW20").active is False
    assert 'id="template-stopped"' in client.get(page).get_data(as_text=True)
    restart = post(client, f"{page}/active", {"active": "1"}, page=page)
    assert restart.status_code == 302 and _template("NEW20").active is True


def test_an_issue_to_a_tag_shows_its_progress_until_done(client, program):
    sign_in(client, "marketing")
    ids = _tagged(3, "咖啡重度")
    save20 = _template("SAVE20")
    page = f"{COUPONS}/{save20.id}"
    assert "咖啡重度（3 人）" in client.get(page).get_data(as_text=True)
    response = post(client, f"{page}/issue", {"audience.tags": "咖啡重度", "key": "spring-coffee"}, page=page)
    assert response.status_code == 302
    issue = CouponIssue.query.filter_by(key="spring-coffee").one()
    progress_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-state="queued"' in progress_page and 'data-percent="0"' in progress_page
    assert "hx-trigger=\"every 2s\"" in progress_page  # polls while queued
    fragment = f"{page}/issues/{issue.id}/progress"
    work()
    done = client.get(fragment, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-state="done"' in done and 'data-percent="100"' in done and "hx-trigger" not in done
    assert '<b id="issue-issued">3</b>' in done
    assert sorted(c.member_id for c in Coupon.query.filter_by(template_id=save20.id)) == sorted(ids)
    again = post(client, f"{page}/issue", {"audience.tags": "咖啡重度", "key": "spring-coffee"}, page=page)
    assert again.headers["Location"] == response.headers["Location"]  # a second click is the same issue
    assert count(CouponIssue) == 1


def test_an_issue_over_stock_ends_with_its_failures_shown(client, program):
    sign_in(client, "marketing")
    _tagged(3, "试饮")
    page = f"{COUPONS}"
    post(client, COUPONS, {**NEW, "code": "TWO-LEFT", "stock": "2"}, page=page)
    two = _template("TWO-LEFT")
    response = post(client, f"{COUPONS}/{two.id}/issue", {"audience.tags": "试饮", "key": "k"}, page=page)
    work()
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-state="done"' in html and '<b id="issue-failed">1</b>' in html and "库存不足" in html


def test_issue_audiences_are_checked(client, program):
    sign_in(client, "marketing")
    save20 = _template("SAVE20")
    page = f"{COUPONS}/{save20.id}"
    empty = post(client, f"{page}/issue", {"key": "a"}, page=page)
    assert empty.status_code == 422 and "请选择发放人群" in empty.get_data(as_text=True)
    unknown = post(client, f"{page}/issue", {"audience.tags": "没有这个", "key": "b"}, page=page)
    assert unknown.status_code == 422 and 'data-error-for="audience.tags"' in unknown.get_data(as_text=True)
    assert count(CouponIssue) == 0
    stopped = post(client, f"{page}/active", {}, page=page)
    assert stopped.status_code == 302
    _tagged(1, "老客")
    refused = post(client, f"{page}/issue", {"audience.tags": "老客", "key": "c"}, page=page)
    assert refused.status_code == 422 and "该券已停用" in refused.get_data(as_text=True)
    assert client.get(f"{page}/issues/999999").status_code == 404


def test_the_issue_api_reports_progress_and_lists_issues(client, program):
    body = client.post("/api/v1/auth/operator-login", json={"username": "marketing", "password": "demo1234"})
    api = {"Authorization": f"Bearer {body.get_json()['token']}"}
    ids = _tagged(4, "会员日")
    save20 = _template("SAVE20")
    posted = client.post(f"/api/v1/admin/coupon-templates/{save20.id}/issue", headers=api,
                         json={"audience": {"tags": ["会员日"]}, "key": "api"}).get_json()
    assert (posted["state"], posted["remaining"], posted["percent"]) == ("queued", 4, 0)
    issues.run_issue(posted["id"], batch_size=3)  # killed after its first batch would leave 3 of 4 done
    db.session.execute(db.update(CouponIssue).where(CouponIssue.id == posted["id"]).values(state="running"))
    db.session.commit()
    one = client.get(f"/api/v1/admin/coupon-templates/{save20.id}/issues/{posted['id']}", headers=api).get_json()
    assert (one["issued"], one["remaining"], one["percent"]) == (4, 0, 100)
    listed = client.get(f"/api/v1/admin/coupon-templates/{save20.id}/issues", headers=api).get_json()
    assert [item["id"] for item in listed["items"]] == [posted["id"]] and listed["items"][0]["percent"] == 100
    assert len(ids) == 4
    missing = client.get("/api/v1/admin/coupon-templates/999999/issues", headers=api)
    assert missing.status_code == 404
