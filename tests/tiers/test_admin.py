"""The ladder as data: public read, marketing CRUD with a consistent ladder and a valid benefit table."""
from app.audit.models import AuditLog
from app.extensions import db
from members.models import Tier
from tests.conftest import bearer
from tests.coupons.helpers import no_such_template, template

PLATINUM = {"code": "platinum", "name": "铂金会员", "rank": 3, "growth_threshold": 10000, "retention_threshold": 5000}


def test_public_ladder_shows_benefits(client, tiers):
    response = client.get("/api/v1/tiers")
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [t["code"] for t in items] == ["normal", "silver", "gold"]
    assert [t["name"] for t in items] == ["普通会员", "高级会员", "尊享会员"]
    gold = items[2]["benefits"]
    assert gold["points_multiplier_percent"] == 150 and gold["free_shipping"] is True
    assert gold["birthday_gift"]["points"] == 1000 and gold["birthday_gift"]["when"] == "month_start"
    assert gold["display"][0]["title"]


def test_create_and_edit_are_audited(client, tiers, marketing):
    pack, gift = template(claimable=False), template(claimable=False)
    body = {**PLATINUM, "benefits": {"points_multiplier_percent": 200, "monthly_pack": [
        {"coupon_template_id": pack.id, "count": 2}], "birthday_gift": {"points": 2000,
                                                                          "coupon_template_ids": [gift.id]}}}
    response = client.post("/api/v1/admin/tiers", headers=marketing, json=body)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["benefits"]["monthly_pack"] == [{"coupon_template_id": pack.id, "count": 2}]
    assert created["benefits"]["birthday_gift"]["coupon_template_ids"] == [gift.id]
    assert created["benefits"]["birthday_gift"]["when"] == "birthday"
    response = client.patch(f"/api/v1/admin/tiers/{created['id']}", headers=marketing, json={"name": "黑金会员"})
    assert response.status_code == 200 and response.get_json()["name"] == "黑金会员"
    actions = [a.action for a in db.session.query(AuditLog).filter_by(target_type="tier", target_id=str(created["id"]))]
    assert actions == ["tier.create", "tier.update"]
    update = db.session.query(AuditLog).filter_by(action="tier.update").one()
    assert update.before["name"] == "铂金会员" and update.after["name"] == "黑金会员"
    assert client.get(f"/api/v1/admin/tiers/{created['id']}", headers=marketing).get_json()["code"] == "platinum"
    assert len(client.get("/api/v1/admin/tiers", headers=marketing).get_json()["items"]) == 4


def _rejected(client, marketing, method, path, body, status, field=None, code=None):
    before = [(t.id, t.code, t.growth_threshold, t.retention_threshold, t.benefits) for t in db.session.query(Tier)]
    response = getattr(client, method)(path, headers=marketing, json=body)
    assert response.status_code == status, (body, response.get_json())
    error = response.get_json()["error"]
    if field:
        assert any(name.startswith(field) for name in error.get("fields", {})), (body, error)
    if code:
        assert error["code"] == code, error
    db.session.expire_all()
    after = [(t.id, t.code, t.growth_threshold, t.retention_threshold, t.benefits) for t in db.session.query(Tier)]
    assert after == before


def test_thresholds_out_of_order(client, tiers, marketing):
    post = "/api/v1/admin/tiers"
    low = {**PLATINUM, "growth_threshold": 4000, "retention_threshold": 3000}
    _rejected(client, marketing, "post", post, low, 422, "growth_threshold", "thresholds_out_of_order")
    _rejected(client, marketing, "post", post, {**PLATINUM, "growth_threshold": 5000}, 422, "growth_threshold")
    _rejected(client, marketing, "post", post, {**PLATINUM, "retention_threshold": 100}, 422, "retention_threshold")
    silver = f"/api/v1/admin/tiers/{tiers['silver'].id}"
    _rejected(client, marketing, "patch", silver, {"growth_threshold": 6000}, 422, "growth_threshold")
    _rejected(client, marketing, "patch", silver, {"retention_threshold": 1200}, 422, "retention_threshold")
    _rejected(client, marketing, "post", post, {**PLATINUM, "rank": 2}, 422, "rank", "tier_rank_taken")
    _rejected(client, marketing, "post", post, {**PLATINUM, "code": "gold"}, 409, code="tier_code_taken")


def test_bad_bodies(client, tiers, marketing):
    post = "/api/v1/admin/tiers"
    cases = [
        ({**PLATINUM, "growth_threshold": -1}, "growth_threshold"),
        ({**PLATINUM, "growth_threshold": "10000"}, "growth_threshold"),
        ({**PLATINUM, "rank": 1.5}, "rank"),
        ({**PLATINUM, "code": "Bad Code"}, "code"),
        ({**PLATINUM, "colour": "black"}, "colour"),
        ({k: v for k, v in PLATINUM.items() if k != "name"}, "name"),
        ({**PLATINUM, "benefits": {"points_multiplier_percent": "x2"}}, "benefits"),
        ({**PLATINUM, "benefits": {"points_multiplier_percent": -100}}, "benefits"),
        ({**PLATINUM, "benefits": {"birthday_gift": {"points": -5}}}, "benefits"),
        ({**PLATINUM, "benefits": {"birthday_gift": {"when": "yesterday"}}}, "benefits"),
        ({**PLATINUM, "benefits": {"monthly_pack": [{"coupon_template_id": 7, "count": 0}]}}, "benefits"),
        ({**PLATINUM, "benefits": {"monthly_pack": [{"coupon_template_id": 7, "count": -1}]}}, "benefits"),
        ({**PLATINUM, "benefits": {"free_shipping": "sometimes"}}, "benefits"),
        ({**PLATINUM, "benefits": {"display": [{"icon": "x"}]}}, "benefits"),
        ({**PLATINUM, "benefits": {"member_discount": 5}}, "benefits"),
        ({**PLATINUM, "review_rule": "weekly"}, "review_rule"),
        ({**PLATINUM, "review_rule": "calendar"}, "review_month_day"),
        ({**PLATINUM, "review_rule": "calendar", "review_month_day": "02-30"}, "review_month_day"),
        ({**PLATINUM, "review_rule": "calendar", "review_month_day": "02-29"}, "review_month_day"),
    ]
    for body, field in cases:
        _rejected(client, marketing, "post", post, body, 422, field)


def test_unknown_coupon_templates_are_422(client, tiers, marketing):
    post = "/api/v1/admin/tiers"
    known = template(claimable=False)
    unknown = no_such_template()
    pack = {**PLATINUM, "benefits": {"monthly_pack": [{"coupon_template_id": known.id},
                                                      {"coupon_template_id": unknown}]}}
    _rejected(client, marketing, "post", post, pack, 422, "benefits.monthly_pack", "unknown_coupon_template")
    gift = {**PLATINUM, "benefits": {"birthday_gift": {"coupon_template_ids": [known.id, unknown]}}}
    _rejected(client, marketing, "post", post, gift, 422, "benefits.birthday_gift", "unknown_coupon_template")


def test_a_monthly_pack_naming_an_unknown_template_is_refused(client, tiers, marketing):
    pack = {**PLATINUM, "benefits": {"monthly_pack": [{"coupon_template_id": 7}]}}
    _rejected(client, marketing, "post", "/api/v1/admin/tiers", pack, 422, code="unknown_coupon_template")


def test_who_may_edit(client, tiers, login, staff):
    token, _ = login("alice")
    for headers, status in (({}, 401), (bearer(token), 403), (staff, 403)):
        assert client.post("/api/v1/admin/tiers", headers=headers, json=PLATINUM).status_code == status
        assert client.get("/api/v1/admin/tiers", headers=headers).status_code == status
    assert client.patch("/api/v1/admin/tiers/999", headers=staff, json={"name": "x"}).status_code == 403


def test_unknown_tier_is_404(client, tiers, marketing):
    assert client.get("/api/v1/admin/tiers/999", headers=marketing).status_code == 404
    response = client.patch("/api/v1/admin/tiers/999", headers=marketing, json={"name": "x"})
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "tier_not_found"


def test_policy(client, tiers, marketing):
    assert client.get("/api/v1/admin/tier-policy", headers=marketing).get_json() == {
        "downgrade_mode": "one_step", "refund_downgrade": "at_review", "growth_per_yuan": 1}
    response = client.put("/api/v1/admin/tier-policy", headers=marketing, json={"refund_downgrade": "immediate"})
    assert response.status_code == 200 and response.get_json()["refund_downgrade"] == "immediate"
    assert db.session.query(AuditLog).filter_by(action="tier_policy.update").count() == 1
    for body in ({"downgrade_mode": "never"}, {"refund_downgrade": 1}, {"other": "x"}, {"growth_per_yuan": -1},
                 {"growth_per_yuan": 101}, {"growth_per_yuan": 1.5}, {"growth_per_yuan": "2"}):
        assert client.put("/api/v1/admin/tier-policy", headers=marketing, json=body).status_code == 422
    assert client.get("/api/v1/admin/tier-policy", headers=marketing).get_json()["refund_downgrade"] == "immediate"


def test_the_demo_seed_is_not_an_operators_change(tiers):
    assert db.session.query(AuditLog).count() == 0
