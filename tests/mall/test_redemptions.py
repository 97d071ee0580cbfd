from app.audit.models import AuditLog
from app.extensions import db
from coupons import issuing
from coupons.models import Coupon, CouponTemplate
from mall.models import CatalogItem, Redemption
from points.ledger import summary
from points.models import LedgerEntry, PointsLot
from tests.conftest import bearer
from tests.coupons.helpers import template
from tests.mall.helpers import PICKUP_STORE, add_item, give_points


def _redeem(client, token, item_id, quantity=1, **headers):
    return client.post("/api/v1/redemptions", json={"item_id": item_id, "quantity": quantity,
                                                    "store_code": PICKUP_STORE}, headers={**bearer(token), **headers})


def _stock(item_id):
    db.session.expire_all()
    return db.session.get(CatalogItem, item_id).stock


def test_redeem_debits_points_and_takes_stock(client, login, marketing):
    item = add_item(client, marketing, cash_price=990)
    token, member_id = login()
    give_points(member_id, 250)
    response = _redeem(client, token, item["id"], 2)
    body = response.get_json()
    assert response.status_code == 201, body
    assert body["state"] == "awaiting_pickup" and body["points_total"] == 200 and body["cash_total"] == 1980
    assert body["item_name"] == "帆布袋"
    assert summary(member_id)["balance"] == 50
    assert _stock(item["id"]) == 8
    spend = LedgerEntry.query.filter_by(kind="spend").one()
    assert spend.business_key == f"redemption:{body['id']}" and spend.delta == -200
    mine = client.get("/api/v1/me/redemptions", headers=bearer(token)).get_json()
    assert [r["id"] for r in mine["items"]] == [body["id"]]


def test_refusals_change_nothing(client, login, marketing, tiers):
    item = add_item(client, marketing, stock=1, per_member_limit=1)
    gold_only = add_item(client, marketing, code="gold-mug", tiers=["gold"])
    hidden = add_item(client, marketing, code="off", active=False)
    token, member_id = login()
    give_points(member_id, 150)
    cases = [
        ({"item_id": item["id"], "quantity": 0}, 422, "validation_error"),
        ({"item_id": item["id"], "quantity": -1}, 422, "validation_error"),
        ({"item_id": item["id"], "quantity": 10**9}, 422, "validation_error"),
        ({"item_id": item["id"], "quantity": "1"}, 422, "validation_error"),
        ({"item_id": item["id"]}, 422, "validation_error"),
        ({"item_id": item["id"], "quantity": 1, "price": 0}, 422, "validation_error"),
        ({"item_id": 999999, "quantity": 1}, 404, "item_not_found"),
        ({"item_id": hidden["id"], "quantity": 1}, 409, "item_unavailable"),
        ({"item_id": gold_only["id"], "quantity": 1}, 403, "tier_not_allowed"),
        ({"item_id": item["id"], "quantity": 2}, 409, "over_limit"),
    ]
    for body, status, code in cases:
        response = client.post("/api/v1/redemptions", json=body | {"store_code": PICKUP_STORE}, headers=bearer(token))
        assert response.status_code == status, (body, response.get_json())
        assert response.get_json()["error"]["code"] == code, body
    assert Redemption.query.count() == 0
    assert summary(member_id)["balance"] == 150 and _stock(item["id"]) == 1
    assert _redeem(client, token, item["id"]).status_code == 201
    listed = client.get("/api/v1/catalog", headers=bearer(token)).get_json()["items"]
    mine = {i["id"]: i for i in listed}[item["id"]]
    assert mine["reasons"] == ["out_of_stock", "insufficient_points", "limit_reached"] and mine["remaining_limit"] == 0
    over = _redeem(client, token, item["id"])
    assert over.status_code == 409 and over.get_json()["error"]["code"] == "over_limit"
    other_token, other_id = login("bob")
    give_points(other_id, 150)
    empty = _redeem(client, other_token, item["id"])
    assert empty.status_code == 409 and empty.get_json()["error"]["code"] == "out_of_stock"
    poor = add_item(client, marketing, code="pricey", points_price=1000)
    broke = _redeem(client, other_token, poor["id"])
    assert broke.status_code == 409 and broke.get_json()["error"]["code"] == "insufficient_points"
    assert summary(other_id)["balance"] == 150 and Redemption.query.count() == 1


def test_members_in_debt_cannot_redeem(client, login, marketing):
    from points import ledger as points_service

    item = add_item(client, marketing)
    token, member_id = login()
    give_points(member_id, 10)
    points_service.reverse(member_id, 50, key="refund-x", cause_type="refund")
    db.session.commit()
    response = _redeem(client, token, item["id"])
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "points_in_debt"
    catalog = client.get("/api/v1/catalog", headers=bearer(token)).get_json()["items"]
    assert catalog[0]["reasons"] == ["points_in_debt"]


def test_period_limit_resets_next_period(client, login, marketing, at):
    item = add_item(client, marketing, per_member_limit=1, limit_period="day")
    token, member_id = login()
    give_points(member_id, 1000)
    at("2026-03-01T23:59:00+08:00")
    assert _redeem(client, token, item["id"]).status_code == 201
    assert _redeem(client, token, item["id"]).get_json()["error"]["code"] == "over_limit"
    at("2026-03-02T00:00:30+08:00")
    assert _redeem(client, token, item["id"]).status_code == 201


def test_catalog_says_why_not(client, login, marketing, tiers):
    add_item(client, marketing, code="ok", points_price=10)
    add_item(client, marketing, code="gold", tiers=["gold"], points_price=10)
    add_item(client, marketing, code="empty", stock=0, points_price=10)
    add_item(client, marketing, code="dear", points_price=10_000)
    add_item(client, marketing, code="later", starts_at="2099-01-01T00:00:00+08:00")
    token, member_id = login()
    give_points(member_id, 50)
    items = {i["name"] and i["id"]: i for i in client.get("/api/v1/catalog", headers=bearer(token)).get_json()["items"]}
    reasons = sorted((i["redeemable"], tuple(i["reasons"])) for i in items.values())
    assert reasons == [(False, ("insufficient_points",)), (False, ("out_of_stock",)),
                       (False, ("tier_not_allowed",)), (True, ())]


def test_idempotency_key(client, login, marketing):
    item = add_item(client, marketing)
    token, member_id = login()
    give_points(member_id, 1000)
    first = _redeem(client, token, item["id"], 1, **{"Idempotency-Key": "k-1"})
    again = _redeem(client, token, item["id"], 1, **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert first.get_json()["id"] == again.get_json()["id"]
    other = _redeem(client, token, item["id"], 2, **{"Idempotency-Key": "k-1"})
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "idempotency_key_reused"
    assert Redemption.query.count() == 1 and summary(member_id)["balance"] == 900
    too_long = _redeem(client, token, item["id"], 1, **{"Idempotency-Key": "x" * 65})
    assert too_long.status_code == 422


def test_coupon_item_issues_at_once(client, login, marketing):
    t = template(claimable=False)
    item = add_item(client, marketing, code="cpn", kind="coupon", coupon_template_id=t.id)
    token, member_id = login()
    _, other = login("bob")
    issuing.grant(other, t.id, key="earlier", reason="test")  # so the new coupons' ids are not 1 and 2
    db.session.commit()
    give_points(member_id, 500)
    body = _redeem(client, token, item["id"], 2).get_json()
    coupons = Coupon.query.filter_by(member_id=member_id).order_by(Coupon.id).all()
    assert body["state"] == "issued" and body["coupon_ids"] == [c.id for c in coupons]
    rid = body["id"]
    assert sorted((c.member_id, c.template_id, c.grant_key, c.source, c.reason, c.state) for c in coupons) == [
        (member_id, t.id, f"redemption:{rid}:{n}", "grant", "mall", "available") for n in (1, 2)]
    cancel = client.post(f"/api/v1/me/redemptions/{body['id']}/cancel", headers=bearer(token))
    assert cancel.status_code == 409 and cancel.get_json()["error"]["code"] == "not_pickup"


def test_coupon_grant_failure_rolls_everything_back(client, login, marketing):
    t = template(claimable=False, stock=1)  # one coupon left: the second of two is refused
    item = add_item(client, marketing, code="cpn", kind="coupon", coupon_template_id=t.id)
    token, member_id = login()
    give_points(member_id, 500)
    response = _redeem(client, token, item["id"], 2)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "coupon_out_of_stock"
    assert Redemption.query.count() == 0 and summary(member_id)["balance"] == 500 and _stock(item["id"]) == 10
    assert Coupon.query.count() == 0 and db.session.get(CouponTemplate, t.id).issued_count == 0


def test_fulfil_once_in_staff_store(client, login, marketing, staff, stores):
    item = add_item(client, marketing)
    token, member_id = login()
    give_points(member_id, 500)
    redemption = _redeem(client, token, item["id"]).get_json()
    done = client.post(f"/api/v1/pos/redemptions/{redemption['id']}/fulfil", headers=staff)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["state"] == "fulfilled" and done.get_json()["fulfilled_store_id"] == stores["S1"].id
    twice = client.post(f"/api/v1/pos/redemptions/{redemption['id']}/fulfil", headers=staff)
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "already_fulfilled"
    cancel = client.post(f"/api/v1/me/redemptions/{redemption['id']}/cancel", headers=bearer(token))
    assert cancel.status_code == 409
    assert client.post("/api/v1/pos/redemptions/999/fulfil", headers=staff).status_code == 404
    assert client.post(f"/api/v1/pos/redemptions/{redemption['id']}/fulfil", headers=bearer(token)).status_code == 403
    assert client.post(f"/api/v1/pos/redemptions/{redemption['id']}/fulfil", headers=marketing).status_code == 403


def test_a_pickup_is_handed_over_only_at_the_store_the_member_chose(client, login, marketing, operator_token):
    """Any store's clerk could mark any member's gift handed over, by its id."""
    item = add_item(client, marketing)
    token, member_id = login()
    give_points(member_id, 500)
    stores = client.get("/api/v1/stores").get_json()["items"]
    assert [(s["code"], s["name"]) for s in stores] == [("S1", "Store S1"), ("S2", "Store S2")]
    for body, code in [({}, "pickup_store_required"), ({"store_code": "S9"}, "store_not_found")]:
        refused = client.post("/api/v1/redemptions", headers=bearer(token),
                              json={"item_id": item["id"], "quantity": 1, **body})
        assert refused.status_code == 422 and refused.get_json()["error"]["code"] == code, refused.get_json()
    assert Redemption.query.count() == 0 and summary(member_id)["balance"] == 500 and _stock(item["id"]) == 10
    redemption = client.post("/api/v1/redemptions", headers=bearer(token),
                             json={"item_id": item["id"], "quantity": 1, "store_code": "S2"}).get_json()
    assert redemption["pickup_store_code"] == "S2"
    path = f"/api/v1/pos/redemptions/{redemption['id']}/fulfil"
    for role in ("staff", "manager"):
        elsewhere = client.post(path, headers=bearer(operator_token(role, "S1")))
        assert elsewhere.status_code == 403 and elsewhere.get_json()["error"]["code"] == "wrong_pickup_store"
        assert "S2" in elsewhere.get_json()["error"]["message"]
    db.session.expire_all()
    assert db.session.get(Redemption, redemption["id"]).state == "awaiting_pickup"
    there = client.post(path, headers=bearer(operator_token("staff", "S2")))
    assert there.status_code == 200 and there.get_json()["state"] == "fulfilled"


def test_a_pickup_redeemed_before_stores_were_chosen_is_handed_over_anywhere(client, login, marketing, staff):
    item = add_item(client, marketing)
    token, member_id = login()
    give_points(member_id, 500)
    redemption = _redeem(client, token, item["id"]).get_json()
    db.session.get(Redemption, redemption["id"]).pickup_store_id = None  # as migration 0014 leaves older rows
    db.session.commit()
    done = client.post(f"/api/v1/pos/redemptions/{redemption['id']}/fulfil", headers=staff)
    assert done.status_code == 200 and done.get_json()["pickup_store_code"] is None


def test_member_cancel_returns_points_with_expiry_and_stock(client, login, marketing, at):
    item = add_item(client, marketing)
    token, member_id = login()
    at("2026-03-01T10:00:00+08:00")
    give_points(member_id, 300)
    original_expiry = PointsLot.query.one().expires_at
    redemption = _redeem(client, token, item["id"], 2).get_json()
    at("2026-03-05T10:00:00+08:00")
    other_token, _ = login("mallory")
    stranger = client.post(f"/api/v1/me/redemptions/{redemption['id']}/cancel", headers=bearer(other_token))
    assert stranger.status_code == 404
    response = client.post(f"/api/v1/me/redemptions/{redemption['id']}/cancel", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["state"] == "cancelled" and response.get_json()["cancelled_by"] == "member"
    assert summary(member_id)["balance"] == 300 and _stock(item["id"]) == 10
    restored = PointsLot.query.filter(PointsLot.entry_id == LedgerEntry.query.filter_by(kind="refund").one().id).one()
    assert restored.expires_at == original_expiry
    again = client.post(f"/api/v1/me/redemptions/{redemption['id']}/cancel", headers=bearer(token))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_cancelled"
    assert summary(member_id)["balance"] == 300


def test_marketing_cancel_is_audited(client, login, marketing, staff):
    item = add_item(client, marketing)
    token, member_id = login()
    give_points(member_id, 100)
    redemption = _redeem(client, token, item["id"]).get_json()
    assert client.post(f"/api/v1/admin/redemptions/{redemption['id']}/cancel", headers=staff).status_code == 403
    response = client.post(f"/api/v1/admin/redemptions/{redemption['id']}/cancel", headers=marketing)
    assert response.status_code == 200 and response.get_json()["cancelled_by"].startswith("operator:")
    assert AuditLog.query.filter_by(action="redemption.cancel").count() == 1
    assert summary(member_id)["balance"] == 100


def test_pickup_queue_and_admin_search(client, login, marketing, staff):
    item = add_item(client, marketing)
    token, member_id = login()
    other_token, other_id = login("bob")
    give_points(member_id, 500)
    give_points(other_id, 500)
    first = _redeem(client, token, item["id"]).get_json()
    second = _redeem(client, token, item["id"]).get_json()
    _redeem(client, other_token, item["id"])
    client.post(f"/api/v1/pos/redemptions/{first['id']}/fulfil", headers=staff)
    queue = client.get(f"/api/v1/pos/redemptions?member_id={member_id}", headers=staff).get_json()
    assert [r["id"] for r in queue["items"]] == [second["id"]]
    store_queue = client.get("/api/v1/pos/redemptions", headers=staff).get_json()["items"]  # no member: S1's
    assert first["id"] not in [r["id"] for r in store_queue] and second["id"] in [r["id"] for r in store_queue]
    assert len(store_queue) == 2  # bob's gift waits at S1 too
    assert client.get(f"/api/v1/pos/redemptions?member_id={member_id}", headers=bearer(token)).status_code == 403
    found = client.get(f"/api/v1/admin/redemptions?member_id={member_id}&state=fulfilled", headers=marketing)
    assert [r["id"] for r in found.get_json()["items"]] == [first["id"]]
    assert len(client.get("/api/v1/admin/redemptions", headers=marketing).get_json()["items"]) == 3
    assert client.get("/api/v1/admin/redemptions?state=lost", headers=marketing).status_code == 422


def test_a_store_sees_the_gifts_waiting_for_it(client, login, marketing, operator_token):
    """The till's pickup queue without a scanned member: every gift members chose to collect at this store."""
    item = add_item(client, marketing)
    token, member_id = login()
    give_points(member_id, 500)
    here = client.post("/api/v1/redemptions", headers=bearer(token),
                       json={"item_id": item["id"], "quantity": 1, "store_code": "S1"}).get_json()
    client.post("/api/v1/redemptions", headers=bearer(token),
                json={"item_id": item["id"], "quantity": 2, "store_code": "S2"})
    s1 = bearer(operator_token("staff", "S1"))
    queue = client.get("/api/v1/pos/redemptions", headers=s1).get_json()["items"]
    assert [(r["id"], r["pickup_store_code"]) for r in queue] == [(here["id"], "S1")]
    client.post(f"/api/v1/pos/redemptions/{here['id']}/fulfil", headers=s1)
    assert client.get("/api/v1/pos/redemptions", headers=s1).get_json()["items"] == []
    s2_queue = client.get("/api/v1/pos/redemptions", headers=bearer(operator_token("staff", "S2"))).get_json()
    assert [r["quantity"] for r in s2_queue["items"]] == [2]
