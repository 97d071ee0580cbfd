"""Template admin: validation, audit, frozen terms once issued, stopping."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.audit.models import AuditLog
from app.extensions import db
from coupons import issuing, templates
from coupons.models import CouponTemplate
from tests.concurrency import end_test_transaction
from tests.coupons.helpers import member, template

BODY = {"code": "FULL100", "title": "满100减20", "kind": "amount_off", "amount_off": 2000, "threshold": 10000,
        "scope": {"kind": "all"}, "validity": {"kind": "relative", "days": 7}, "stock": 100,
        "per_member_limit": 1, "audience": {"tiers": [], "tags": []}, "claimable": True, "stackable": False}


def test_create_is_audited_and_read_back(client, marketing):
    response = client.post("/api/v1/admin/coupon-templates", json=BODY, headers=marketing)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["code"] == "FULL100" and body["issued"] == 0 and body["validity"] == {
        "kind": "relative", "start": None, "end": None, "days": 7}
    assert AuditLog.query.filter_by(action="coupon_template.create", target_id=str(body["id"])).one()
    listed = client.get("/api/v1/admin/coupon-templates", headers=marketing).get_json()
    assert [t["code"] for t in listed["items"]] == ["FULL100"]
    one = client.get(f"/api/v1/admin/coupon-templates/{body['id']}", headers=marketing).get_json()
    assert one["title"] == "满100减20"


def test_fixed_dates_round_trip(client, marketing):
    body = {**BODY, "validity": {"kind": "fixed", "start": "2026-03-01", "end": "2026-03-31"}}
    response = client.post("/api/v1/admin/coupon-templates", json=body, headers=marketing)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["validity"]["start"] == "2026-03-01"
    assert response.get_json()["validity"]["end"] == "2026-03-31"


BAD = [
    ({"kind": "percent_off", "amount_off": None, "percent": 0, "threshold": 0}, "percent"),
    ({"kind": "percent_off", "amount_off": None, "percent": 100, "threshold": 0}, "percent"),
    ({"kind": "percent_off", "amount_off": None, "threshold": 0}, "percent"),
    ({"threshold": 1500}, "threshold"),
    ({"validity": {"kind": "fixed", "start": "2026-03-10", "end": "2026-03-01"}}, "validity.end"),
    ({"validity": {"kind": "fixed", "start": "2026-03-10"}}, "validity"),
    ({"validity": {"kind": "relative", "days": 0}}, "validity.days"),
    ({"amount_off": 20.5}, "amount_off"),
    ({"amount_off": -5}, "amount_off"),
    ({"amount_off": 10**12}, "amount_off"),
    ({"amount_off": "2000"}, "amount_off"),
    ({"stock": -1}, "stock"),
    ({"per_member_limit": 0}, "per_member_limit"),
    ({"kind": "gift", "amount_off": None, "threshold": 0}, "gift_sku"),
    ({"kind": "bogus"}, "kind"),
    ({"surprise": 1}, "surprise"),
    ({"scope": {"kind": "skus", "values": []}}, "scope.values"),
    ({"scope": {"kind": "all", "values": ["x"]}}, "scope.values"),
    ({"audience": {"tiers": ["platinum"]}}, "audience.tiers"),
    ({"claim_start": "2026-03-02T00:00:00+08:00", "claim_end": "2026-03-01T00:00:00+08:00"}, "claim_end"),
    ({"claim_start": "2026-03-02T00:00:00"}, "claim_start"),
]


@pytest.mark.parametrize("change,field", BAD)
def test_bad_template_is_refused_and_changes_nothing(client, marketing, tiers, change, field):
    response = client.post("/api/v1/admin/coupon-templates", json={**BODY, **change}, headers=marketing)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert CouponTemplate.query.count() == 0


def test_missing_required_fields(client, marketing):
    response = client.post("/api/v1/admin/coupon-templates", json={"title": "x"}, headers=marketing)
    assert response.status_code == 422
    assert {"kind", "validity"} <= set(response.get_json()["error"]["fields"])
    assert "code" not in response.get_json()["error"]["fields"]  # optional: generated when absent


def test_unknown_skus_and_categories_in_scope(client, marketing):
    """Scopes are checked against the till's product catalogue (here: two products)."""
    from app.extensions import db
    from catalog.models import Product

    db.session.add_all([Product(sku="LATTE", name="拿铁", category="coffee", list_price=3200, member_prices={}),
                        Product(sku="CAKE", name="蛋糕", category="bakery", list_price=2800, member_prices={})])
    db.session.commit()
    for change, field, code in [
        ({"scope": {"kind": "skus", "values": ["LATTE", "NOPE"]}}, "scope.values", "unknown_sku"),
        ({"scope": {"kind": "categories", "values": ["shoes"]}}, "scope.values", "unknown_category"),
        ({"kind": "gift", "amount_off": None, "threshold": 0, "gift_sku": "NOPE"}, "gift_sku", "unknown_sku"),
    ]:
        response = client.post("/api/v1/admin/coupon-templates", json={**BODY, **change}, headers=marketing)
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["error"]["code"] == code and field in response.get_json()["error"]["fields"]
    ok = client.post("/api/v1/admin/coupon-templates",
                     json={**BODY, "scope": {"kind": "skus", "values": ["LATTE"], "exclude": True}}, headers=marketing)
    assert ok.status_code == 201, ok.get_json()


def test_percent_off_with_a_cap_above_a_small_threshold_is_fine(client, marketing):
    body = {**BODY, "kind": "percent_off", "amount_off": None, "percent": 88, "max_discount": 5000, "threshold": 2000}
    response = client.post("/api/v1/admin/coupon-templates", json=body, headers=marketing)
    assert response.status_code == 201, response.get_json()


def test_duplicate_code_is_409(client, marketing):
    assert client.post("/api/v1/admin/coupon-templates", json=BODY, headers=marketing).status_code == 201
    again = client.post("/api/v1/admin/coupon-templates", json=BODY, headers=marketing)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "coupon_template_code_taken"


def test_only_marketing_may_manage_templates(client, staff, login):
    token, _ = login("alice")
    for headers in (staff, {"Authorization": f"Bearer {token}"}):
        assert client.post("/api/v1/admin/coupon-templates", json=BODY, headers=headers).status_code == 403
    assert client.get("/api/v1/admin/coupon-templates").status_code == 401


def test_terms_frozen_once_issued_but_template_can_be_stopped(client, marketing):
    t = template(threshold=10000)
    path = f"/api/v1/admin/coupon-templates/{t.id}"
    before = client.patch(path, json={"threshold": 5000}, headers=marketing)
    assert before.status_code == 200 and before.get_json()["threshold"] == 5000  # nothing issued yet
    holder = member()
    coupon = issuing.grant(holder.id, t.id, key="k1", reason="test")
    db.session.commit()
    for change in ({"threshold": 8000}, {"amount_off": 1000}, {"validity": {"kind": "relative", "days": 1}},
                   {"scope": {"kind": "categories", "values": ["x"]}}, {"stackable": True}):
        response = client.patch(path, json=change, headers=marketing)
        assert response.status_code == 409, (change, response.get_json())
        assert response.get_json()["error"]["code"] == "coupon_template_in_use"
    same = client.patch(path, json={"threshold": 5000, "title": "renamed"}, headers=marketing)
    assert same.status_code == 200, same.get_json()
    stopped = client.patch(path, json={"active": False}, headers=marketing)
    assert stopped.status_code == 200 and stopped.get_json()["active"] is False
    assert coupon.terms["threshold"] == 5000 and coupon.title == f"coupon {t.code[1:]}"  # the snapshot
    assert AuditLog.query.filter_by(action="coupon_template.update").count() == 3
    low = client.patch(path, json={"stock": 0}, headers=marketing)
    assert low.status_code == 422 and "stock" in low.get_json()["error"]["fields"]


def test_patch_unknown_template_is_404(client, marketing):
    response = client.patch("/api/v1/admin/coupon-templates/999", json={"active": False}, headers=marketing)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "coupon_template_not_found"


def test_demo_seed_is_idempotent():
    from demo import coupons as demo

    demo.seed()
    demo.seed()
    codes = {t.code for t in CouponTemplate.query.all()}
    assert {"NEW20", "SAVE20", "P88", "FREE-DRINK", "BDAY-GIFT", "MONTHLY-SILVER"} <= codes
    assert CouponTemplate.query.count() == len(demo.TEMPLATES)


def test_concurrent_creates_of_one_code(app, marketing):
    def create(_):
        with app.app_context():
            return app.test_client().post("/api/v1/admin/coupon-templates", json=BODY, headers=marketing).status_code

    end_test_transaction()
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(create, range(6)))
    assert statuses.count(201) == 1 and statuses.count(409) == 5


def test_unknown_audience_tags_are_refused_on_create_and_patch(client, marketing):
    from app.extensions import db
    from members.models import MemberTag

    db.session.add(MemberTag(member_id=member().id, tag="tea-lover"))
    db.session.commit()
    response = client.post("/api/v1/admin/coupon-templates", headers=marketing,
                           json={**BODY, "audience": {"tags": ["tea-lover", "no-such-tag"]}})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "unknown_tag"
    assert "no-such-tag" in response.get_json()["error"]["fields"]["audience.tags"][0]
    assert CouponTemplate.query.count() == 0

    created = client.post("/api/v1/admin/coupon-templates", headers=marketing,
                          json={**BODY, "audience": {"tags": ["tea-lover"]}})
    assert created.status_code == 201, created.get_json()
    url = f"/api/v1/admin/coupon-templates/{created.get_json()['id']}"
    bad = client.patch(url, headers=marketing, json={"audience": {"tags": ["no-such-tag"]}})
    assert bad.status_code == 422 and "audience.tags" in bad.get_json()["error"]["fields"]
    assert client.get(url, headers=marketing).get_json()["audience"]["tags"] == ["tea-lover"]
    assert AuditLog.query.filter_by(action="coupon_template.update").count() == 0
    # the tag leaves every member: the template can still be retitled or stopped
    MemberTag.query.delete()
    db.session.commit()
    assert client.patch(url, headers=marketing, json={"title": "改名", "active": False}).status_code == 200


def test_the_api_md_body_without_a_code_gets_a_generated_one(client, marketing):
    body = {key: value for key, value in BODY.items() if key != "code"}
    first = client.post("/api/v1/admin/coupon-templates", json=body, headers=marketing)
    second = client.post("/api/v1/admin/coupon-templates", json=body, headers=marketing)
    assert first.status_code == second.status_code == 201, first.get_json()
    codes = [first.get_json()["code"], second.get_json()["code"]]
    assert all(re.fullmatch(r"T[0-9A-F]{10}", code) for code in codes) and codes[0] != codes[1]
    again = client.get(f"/api/v1/admin/coupon-templates/{first.get_json()['id']}", headers=marketing)
    assert again.get_json()["code"] == codes[0]  # stable: stored, not derived
    taken = client.post("/api/v1/admin/coupon-templates", json={**body, "code": codes[0]}, headers=marketing)
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "coupon_template_code_taken"


@pytest.mark.parametrize("race", [False, True], ids=["seen-by-look-up", "caught-by-unique-index"])
def test_a_generated_code_that_clashes_is_drawn_again(client, marketing, monkeypatch, race):
    assert client.post("/api/v1/admin/coupon-templates", json={**BODY, "code": "TCLASH00001"},
                       headers=marketing).status_code == 201
    draws = iter(["TCLASH00001", "TFRESH00001"])
    monkeypatch.setattr(templates, "new_template_code", lambda: next(draws))
    if race:  # another request inserts the code between the look-up and the flush
        monkeypatch.setattr(templates, "template_by_code", lambda code: None)
    body = {key: value for key, value in BODY.items() if key != "code"}
    response = client.post("/api/v1/admin/coupon-templates", json=body, headers=marketing)
    assert response.status_code == 201 and response.get_json()["code"] == "TFRESH00001"
    assert CouponTemplate.query.count() == 2


def test_patching_to_a_taken_code_is_409(client, marketing):
    assert client.post("/api/v1/admin/coupon-templates", json=BODY, headers=marketing).status_code == 201
    other = client.post("/api/v1/admin/coupon-templates", json={**BODY, "code": "OTHER"}, headers=marketing)
    response = client.patch(f"/api/v1/admin/coupon-templates/{other.get_json()['id']}", json={"code": "FULL100"},
                            headers=marketing)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "coupon_template_code_taken"
