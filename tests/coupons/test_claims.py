"""Claim center, registration gifts and automatic grants."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from app.errors import Conflict, NotFound
from app.extensions import db
from coupons import issuing
from coupons.models import Coupon, CouponTemplate
from members.models import MemberTag
from tests.concurrency import end_test_transaction
from tests.conftest import bearer
from tests.coupons.helpers import member, member_headers, members, purchase, template


def _center(client, headers) -> dict:
    response = client.get("/api/v1/coupons/center", headers=headers)
    assert response.status_code == 200, response.get_json()
    return {item["template"]["code"]: item for item in response.get_json()["items"]}


def test_claim_takes_one_and_respects_the_limit(client):
    t = template(per_member_limit=2, stock=10)
    headers = member_headers(member().id)
    first = client.post(f"/api/v1/coupons/center/{t.id}/claim", headers=headers)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["state"] == "available" and len(body["code"]) == 20 and body["code"].isdigit()
    assert client.post(f"/api/v1/coupons/center/{t.id}/claim", headers=headers).status_code == 201
    third = client.post(f"/api/v1/coupons/center/{t.id}/claim", headers=headers)
    assert third.status_code == 409 and third.get_json()["error"]["code"] == "coupon_limit_reached"
    assert Coupon.query.count() == 2
    db.session.expire_all()
    assert db.session.get(CouponTemplate, t.id).issued_count == 2


def test_claim_out_of_stock(client):
    t = template(stock=1)
    assert client.post(f"/api/v1/coupons/center/{t.id}/claim", headers=member_headers(member().id)).status_code == 201
    late = client.post(f"/api/v1/coupons/center/{t.id}/claim", headers=member_headers(member().id))
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "coupon_out_of_stock"


def test_claim_refusals(client, tiers, at):
    at("2026-03-01T10:00:00+08:00")
    someone = member(tier_id=tiers["normal"].id)
    headers = member_headers(someone.id)
    stopped = template(active=False)
    hidden = template(claimable=False)
    gold = template(audience={"tiers": ["gold"]})
    db.session.add(MemberTag(member_id=member().id, tag="vip-club"))  # a tag must be in use to be targeted
    db.session.commit()
    vip_tag = template(audience={"tags": ["vip-club"]})
    later = template(claim_start="2026-03-02T00:00:00+08:00")
    over = template(claim_end="2026-03-01T09:00:00+08:00")
    cases = [(stopped, 409, "coupon_template_stopped"), (hidden, 409, "coupon_not_claimable"),
             (gold, 403, "coupon_not_in_audience"), (vip_tag, 403, "coupon_not_in_audience"),
             (later, 409, "coupon_claim_not_started"), (over, 409, "coupon_claim_ended")]
    for t, status, code in cases:
        response = client.post(f"/api/v1/coupons/center/{t.id}/claim", headers=headers)
        assert (response.status_code, response.get_json()["error"]["code"]) == (status, code), t.code
    assert client.post("/api/v1/coupons/center/9999/claim", headers=headers).status_code == 404
    assert Coupon.query.count() == 0
    db.session.add(MemberTag(member_id=someone.id, tag="vip-club"))
    db.session.commit()
    assert client.post(f"/api/v1/coupons/center/{vip_tag.id}/claim", headers=headers).status_code == 201


def test_center_says_why_not(client, tiers):
    someone = member(tier_id=tiers["normal"].id)
    headers = member_headers(someone.id)
    open_one = template(stock=5)
    gone = template(stock=0)
    gold = template(audience={"tiers": ["gold"]})
    template(claimable=False)
    template(active=False)
    items = _center(client, headers)
    assert set(items) == {open_one.code, gone.code, gold.code}
    assert items[open_one.code]["can_claim"] is True and items[open_one.code]["remaining"] == 5
    assert items[gone.code]["reason"] == "out_of_stock"
    assert items[gold.code]["reason"] == "not_in_audience"
    client.post(f"/api/v1/coupons/center/{open_one.id}/claim", headers=headers)
    items = _center(client, headers)
    assert items[open_one.code]["reason"] == "limit_reached" and items[open_one.code]["claimed"] == 1


def test_staff_cannot_use_the_center(client, staff):
    assert client.get("/api/v1/coupons/center", headers=staff).status_code == 403


def test_new_member_gift_on_registration(client, login, stores):
    gift = template(code="NEW20", audience={"new_members_only": True}, claimable=True)
    template(code="OTHER")
    token, member_id = login("newbie")
    coupons = Coupon.query.filter_by(member_id=member_id).all()
    assert [(c.template_id, c.source) for c in coupons] == [(gift.id, "grant")]
    login("newbie")  # a second login is not a registration
    assert Coupon.query.filter_by(member_id=member_id).count() == 1
    items = _center(client, bearer(token))
    assert items["NEW20"]["reason"] == "limit_reached"
    other = member()
    purchase(other.id, stores["S1"].id)
    assert _center(client, member_headers(other.id))["NEW20"]["reason"] == "new_members_only"


def test_registration_survives_a_gift_out_of_stock(login):
    template(code="NEW20", audience={"new_members_only": True}, stock=0)
    _, member_id = login("late")
    assert Coupon.query.filter_by(member_id=member_id).count() == 0


def test_grant_is_idempotent_by_key_and_does_not_commit():
    t = template(stock=5, claimable=False)
    someone = member()
    first = issuing.grant(someone.id, t.id, key="birthday:2026", reason="birthday")
    again = issuing.grant(someone.id, t.id, key="birthday:2026", reason="birthday")
    assert first.id == again.id and first.source == "grant"
    db.session.rollback()  # the caller's transaction decides
    assert Coupon.query.count() == 0
    issuing.grant(someone.id, t.id, key="birthday:2026", reason="birthday")
    issuing.grant(someone.id, t.id, key="birthday:2027", reason="birthday")
    db.session.commit()
    assert Coupon.query.count() == 2
    db.session.expire_all()
    assert db.session.get(CouponTemplate, t.id).issued_count == 2


def test_grant_refusals():
    someone = member()
    with pytest.raises(NotFound):
        issuing.grant(someone.id, 999, key="k", reason="r")
    stopped = template(active=False)
    with pytest.raises(Conflict) as stopped_error:
        issuing.grant(someone.id, stopped.id, key="k", reason="r")
    assert stopped_error.value.code == "coupon_template_stopped"
    empty = template(stock=0)
    with pytest.raises(Conflict) as stock_error:
        issuing.grant(someone.id, empty.id, key="k", reason="r")
    assert stock_error.value.code == "coupon_out_of_stock"
    with pytest.raises(NotFound):
        issuing.grant(987654, template().id, key="k", reason="r")


def test_relative_validity_ends_at_end_of_business_day(at):
    at("2026-03-01T23:30:00+08:00")
    t = template(validity={"kind": "relative", "days": 7})
    coupon = issuing.grant(member().id, t.id, key="k", reason="r")
    assert coupon.valid_until.isoformat() == "2026-03-08T16:00:00+00:00"  # 2026-03-09 00:00 Shanghai


def _claim(app, template_id: int, member_id: int) -> int:
    with app.app_context():
        return app.test_client().post(f"/api/v1/coupons/center/{template_id}/claim",
                                      headers=member_headers(member_id)).status_code


def test_200_members_race_for_the_last_50(app):
    t = template(stock=50)
    template_id, ids = t.id, members(200)
    end_test_transaction()
    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(lambda m: _claim(app, template_id, m), ids))
    assert statuses.count(201) == 50 and statuses.count(409) == 150
    db.session.expire_all()
    assert Coupon.query.count() == 50
    assert db.session.get(CouponTemplate, template_id).issued_count == 50


def test_one_member_races_10_claims_against_a_limit_of_2(app):
    template_id, someone = template(per_member_limit=2).id, member().id
    end_test_transaction()
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(lambda _: _claim(app, template_id, someone), range(10)))
    assert statuses.count(201) == 2 and statuses.count(409) == 8
    assert Coupon.query.filter_by(member_id=someone).count() == 2


def test_concurrent_grants_with_one_key_give_one_coupon(app):
    template_id, someone = template(claimable=False).id, member().id

    def give(_):
        with app.app_context():
            coupon_id = issuing.grant(someone, template_id, key="monthly:2026-03", reason="monthly").id
            db.session.commit()
            return coupon_id

    end_test_transaction()
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(give, range(8)))
    assert len(ids) == 1 and Coupon.query.count() == 1
