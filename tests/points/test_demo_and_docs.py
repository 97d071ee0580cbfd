"""The demo seed is idempotent and usable at the till; the OpenAPI document carries every points route."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from catalog.models import Product
from demo import points as demo
from till.models import EarnRule


def test_demo_seed_is_idempotent_and_sells(client, staff, tiers, login, at):
    at("2026-03-04T10:00:00+08:00")  # a Wednesday: 会员日
    demo.seed()
    demo.seed()
    assert db.session.scalar(select(func.count()).select_from(Product)) == len(demo.PRODUCTS) == 10
    assert db.session.scalar(select(func.count()).select_from(EarnRule)) == 3
    _, member_id = login("demo")
    quote = client.post("/api/v1/pos/quote", headers=staff, json={
        "member_id": member_id, "items": [{"sku": "LATTE", "qty": 1}, {"sku": "CROISSANT", "qty": 1}]}).get_json()
    assert [r["name"] for r in quote["applied_rules"] if r["type"] == "earn_rule"] == ["开业季三倍积分"]
    assert quote["points_to_earn"] == 47 * 3


def test_openapi_lists_the_points_routes(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for path in ("/api/v1/pos/quote", "/api/v1/pos/purchases", "/api/v1/pos/purchases/{order_no}/refunds",
                 "/api/v1/me/points/ledger", "/api/v1/admin/points-policy", "/api/v1/admin/products/{sku}",
                 "/api/v1/admin/earn-rules/{rule_id}", "/api/v1/admin/members/{member_id}/points-adjustments",
                 "/api/v1/admin/members"):
        assert path in paths, path
