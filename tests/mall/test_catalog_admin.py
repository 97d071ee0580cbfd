from app.audit.models import AuditLog
from tests.conftest import bearer
from tests.coupons.helpers import no_such_template, template
from tests.mall.helpers import TOTE, add_item


def test_crud_is_audited(client, marketing):
    item = add_item(client, marketing)
    assert item["stock"] == 10 and item["limit_period"] == "ever" and item["active"] is True
    patched = client.patch(f"/api/v1/admin/catalog/{item['id']}", json={"stock": 3, "points_price": 120},
                           headers=marketing)
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["stock"] == 3 and patched.get_json()["points_price"] == 120
    assert client.get(f"/api/v1/admin/catalog/{item['id']}", headers=marketing).get_json()["stock"] == 3
    assert [i["id"] for i in client.get("/api/v1/admin/catalog", headers=marketing).get_json()["items"]] == [item["id"]]
    logs = AuditLog.query.order_by(AuditLog.id).all()
    assert [log.action for log in logs] == ["catalog.create", "catalog.update"]
    assert logs[1].before["stock"] == 10 and logs[1].after["stock"] == 3


def test_bad_items_are_refused(client, marketing, login):
    cases = [
        ({**TOTE, "points_price": 0}, 422, "points_price"),
        ({**TOTE, "points_price": -5}, 422, "points_price"),
        ({**TOTE, "stock": -1}, 422, "stock"),
        ({**TOTE, "stock": 10**12}, 422, "stock"),
        ({**TOTE, "kind": "shipping"}, 422, "kind"),
        ({**TOTE, "kind": "coupon"}, 422, "coupon_template_id"),
        ({**TOTE, "kind": "coupon", "coupon_template_id": 1, "cash_price": 100}, 422, "cash_price"),
        ({**TOTE, "coupon_template_id": 1}, 422, "coupon_template_id"),
        ({**TOTE, "tiers": ["platinum"]}, 422, "tiers"),
        ({**TOTE, "starts_at": "2026-03-02T00:00:00+08:00", "ends_at": "2026-03-01T00:00:00+08:00"}, 422, "ends_at"),
        ({**TOTE, "starts_at": "2026-03-02T00:00:00"}, 422, "starts_at"),
        ({**TOTE, "colour": "red"}, 422, "colour"),
        ({**TOTE, "code": "Bad Code"}, 422, "code"),
    ]
    for body, status, field in cases:
        response = client.post("/api/v1/admin/catalog", json=body, headers=marketing)
        assert response.status_code == status, (body, response.get_json())
        assert field in response.get_json()["error"]["fields"], (body, response.get_json())
    add_item(client, marketing)
    duplicate = client.post("/api/v1/admin/catalog", json=TOTE, headers=marketing)
    assert duplicate.status_code == 409 and duplicate.get_json()["error"]["code"] == "duplicate_code"
    assert client.patch("/api/v1/admin/catalog/999", json={"stock": 1}, headers=marketing).status_code == 404
    item_id = client.get("/api/v1/admin/catalog", headers=marketing).get_json()["items"][0]["id"]
    assert client.patch(f"/api/v1/admin/catalog/{item_id}", json={"code": "x"}, headers=marketing).status_code == 422
    assert client.patch(f"/api/v1/admin/catalog/{item_id}", json={"kind": "coupon"},
                        headers=marketing).status_code == 422
    token, _ = login()
    assert client.post("/api/v1/admin/catalog", json=TOTE, headers=bearer(token)).status_code == 403
    assert client.get("/api/v1/admin/catalog").status_code == 401
    assert AuditLog.query.count() == 1


def test_unknown_coupon_template_is_refused(client, marketing):
    t = template(claimable=False)
    unknown = {**TOTE, "kind": "coupon", "coupon_template_id": no_such_template()}
    bad = client.post("/api/v1/admin/catalog", json=unknown, headers=marketing)
    assert bad.status_code == 422 and "coupon_template_id" in bad.get_json()["error"]["fields"]
    add_item(client, marketing, kind="coupon", coupon_template_id=t.id)
    assert [log.action for log in AuditLog.query.filter_by(target_type="catalog_item")] == ["catalog.create"]
