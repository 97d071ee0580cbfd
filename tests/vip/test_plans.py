"""VIP plans: on sale to everyone, edited by marketing (audited), bad numbers rejected."""
from app.audit.models import AuditLog
from app.extensions import db
from tests.conftest import bearer
from tests.coupons.helpers import no_such_template, template
from vip.models import VipPlan

ANNUAL = {"code": "annual", "name": "年卡VIP", "price": 29900, "duration_days": 365}


def test_create_list_and_edit(client, marketing):
    pack = template(claimable=False)
    body = {**ANNUAL, "benefits": {"points_multiplier_percent": 150, "monthly_pack": [{"coupon_template_id": pack.id}],
                                   "vip_day": {"day_of_month": 8, "multiplier_percent": 200}}}
    response = client.post("/api/v1/admin/vip-plans", headers=marketing, json=body)
    assert response.status_code == 201, response.get_json()
    plan = response.get_json()
    assert plan["benefits"]["monthly_pack"] == [{"coupon_template_id": pack.id, "count": 1}]
    hidden = client.post("/api/v1/admin/vip-plans", headers=marketing,
                         json={**ANNUAL, "code": "old", "active": False}).get_json()
    public = client.get("/api/v1/vip/plans").get_json()["items"]
    assert [p["code"] for p in public] == ["annual"]
    assert len(client.get("/api/v1/admin/vip-plans", headers=marketing).get_json()["items"]) == 2
    response = client.patch(f"/api/v1/admin/vip-plans/{hidden['id']}", headers=marketing, json={"active": True})
    assert response.status_code == 200 and response.get_json()["active"] is True
    assert client.get(f"/api/v1/admin/vip-plans/{plan['id']}", headers=marketing).get_json()["price"] == 29900
    assert [a.action for a in db.session.query(AuditLog).filter_by(target_type="vip_plan").order_by(AuditLog.id)] == [
        "vip_plan.create", "vip_plan.create", "vip_plan.update"]


def test_bad_plans_change_nothing(client, marketing):
    pack = template(claimable=False)
    cases = [
        ({**ANNUAL, "price": -29900}, "price"),
        ({**ANNUAL, "price": 0}, "price"),
        ({**ANNUAL, "price": 299.0}, "price"),
        ({**ANNUAL, "price": "29900"}, "price"),
        ({**ANNUAL, "duration_days": 0}, "duration_days"),
        ({**ANNUAL, "duration_days": -365}, "duration_days"),
        ({**ANNUAL, "duration_days": 10**9}, "duration_days"),
        ({**ANNUAL, "benefits": {"points_multiplier_percent": 50}}, "benefits"),
        ({**ANNUAL, "benefits": {"vip_day": {"day_of_month": 32, "multiplier_percent": 200}}}, "benefits"),
        ({**ANNUAL, "benefits": {"vip_day": {"day_of_month": 8}}}, "benefits"),
        ({**ANNUAL, "benefits": {"monthly_pack": [{"coupon_template_id": no_such_template()}]}},
         "benefits.monthly_pack"),
        ({**ANNUAL, "benefits": {"monthly_pack": [{"coupon_template_id": pack.id, "count": -2}]}}, "benefits"),
        ({**ANNUAL, "surprise": True}, "surprise"),
        ({"name": "x", "price": 100, "duration_days": 1}, "code"),
    ]
    for body, field in cases:
        response = client.post("/api/v1/admin/vip-plans", headers=marketing, json=body)
        assert response.status_code == 422, (body, response.get_json())
        assert any(name.startswith(field) for name in response.get_json()["error"]["fields"]), body
    assert db.session.query(VipPlan).count() == 0
    assert client.post("/api/v1/admin/vip-plans", headers=marketing, json=ANNUAL).status_code == 201
    duplicate = client.post("/api/v1/admin/vip-plans", headers=marketing, json=ANNUAL)
    assert duplicate.status_code == 409 and duplicate.get_json()["error"]["code"] == "vip_plan_code_taken"
    plan_id = db.session.query(VipPlan).one().id
    for body in ({"price": -1}, {"duration_days": 0}, {"price": None}):
        assert client.patch(f"/api/v1/admin/vip-plans/{plan_id}", headers=marketing, json=body).status_code == 422
    db.session.expire_all()
    assert (db.session.get(VipPlan, plan_id).price, db.session.get(VipPlan, plan_id).duration_days) == (29900, 365)
    assert client.patch("/api/v1/admin/vip-plans/999", headers=marketing, json={"price": 1}).status_code == 404


def test_only_marketing_edits_plans(client, login, staff):
    token, _ = login("alice")
    for headers, status in (({}, 401), (bearer(token), 403), (staff, 403)):
        assert client.post("/api/v1/admin/vip-plans", headers=headers, json=ANNUAL).status_code == status
