"""The till's per-process copy of the policy, products and earn rules (app.config_cache) follows every
committed change, made by this process or another, and is used while the version token stands."""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from app import config_cache
from app.extensions import db
from catalog.models import Product
from till.models import EarnRule


def _latte_quote(client, staff, member_id) -> dict:
    response = client.post("/api/v1/pos/quote", headers=staff,
                           json={"member_id": member_id, "items": [{"sku": "LATTE", "qty": 1}]})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_an_admin_price_change_reaches_the_next_quote(client, staff, marketing, shopper):
    _, member_id = shopper
    assert _latte_quote(client, staff, member_id)["payable"] == 3000
    changed = client.patch("/api/v1/admin/products/LATTE", headers=marketing, json={"list_price": 3500})
    assert changed.status_code == 200, changed.get_json()
    assert _latte_quote(client, staff, member_id)["payable"] == 3500


def test_a_change_committed_by_another_process_is_seen(client, staff, shopper):
    _, member_id = shopper
    assert _latte_quote(client, staff, member_id)["points_to_earn"] == 30
    latte_id = db.session.scalar(db.select(Product.id).where(Product.sku == "LATTE"))
    db.session.rollback()  # as a request ends: on SQLite the open transaction would hold the other writer off
    with Session(db.engine) as other:  # another worker: its own connection and session, through the ORM
        other.add(EarnRule(name="double", percent=200, priority=0, stackable=True, active=True))
        other.get(Product, latte_id).list_price = 4000
        other.commit()
    quote = _latte_quote(client, staff, member_id)
    assert quote["payable"] == 4000 and quote["points_to_earn"] == 80


def test_the_copy_is_used_while_the_token_stands(client, staff, shopper):
    _, member_id = shopper
    assert _latte_quote(client, staff, member_id)["payable"] == 3000
    db.session.execute(text("UPDATE products SET list_price = 3300 WHERE sku = 'LATTE'"))  # bypasses the ORM
    db.session.commit()
    assert _latte_quote(client, staff, member_id)["payable"] == 3000  # served from the copy
    config_cache.bump(db.session.connection())  # what a write outside the ORM must do
    db.session.commit()
    assert _latte_quote(client, staff, member_id)["payable"] == 3300


def test_a_tier_change_committed_by_another_process_is_seen(client, staff, shopper):
    """The tier ladder rides the same copy and token (tiers.ladder.ladder_copy)."""
    from members.models import Member, Tier

    _, member_id = shopper
    assert _latte_quote(client, staff, member_id)["points_to_earn"] == 30
    tier_id = db.session.get(Member, member_id).tier_id
    db.session.rollback()
    with Session(db.engine) as other:
        tier = other.get(Tier, tier_id)
        tier.benefits = {**(tier.benefits or {}), "points_multiplier_percent": 200}
        other.commit()
    assert _latte_quote(client, staff, member_id)["points_to_earn"] == 60
