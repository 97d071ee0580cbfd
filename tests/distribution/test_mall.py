"""The cash part of a points-mall gift, paid at its pickup, is attributed like a till sale; its points part
earns nothing."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from distribution import program
from distribution.models import Commission
from tests.mall.helpers import add_item, give_points


def _redeem_and_pick_up(client, fan, item: dict, staff) -> None:
    give_points(fan[1], 1000)
    redemption = client.post("/api/v1/redemptions", json={"item_id": item["id"], "quantity": 1, "store_code": "S1"},
                             headers=fan[0])
    assert redemption.status_code == 201, redemption.get_json()
    done = client.post(f"/api/v1/pos/redemptions/{redemption.get_json()['id']}/fulfil", headers=staff)
    assert done.status_code == 200, done.get_json()


def test_a_gifts_cash_part_pays_commission_at_pickup(client, promoter, fan, marketing, staff):
    item = add_item(client, marketing, code="cup", name="随行杯", points_price=500, cash_price=2000)
    _redeem_and_pick_up(client, fan, item, staff)
    row = db.session.scalar(select(Commission))
    assert (row.redemption_id is not None, row.purchase_id, row.base, row.amount) == (True, None, 2000, 200)
    mine = client.get("/api/v1/me/promoter/commission", headers=promoter[0]).get_json()["items"]
    assert mine[0]["order"].startswith("MA****") and mine[0]["amount"] == 200
    card = client.get("/api/v1/me/promoter", headers=promoter[0]).get_json()["promoter"]
    assert (card["pending"], card["gmv"], card["fans"]) == (200, 2000, 1)


def test_a_points_only_gift_or_distribution_off_pays_nothing(client, promoter, fan, marketing, staff):
    tote = add_item(client, marketing)  # points only
    _redeem_and_pick_up(client, fan, tote, staff)
    program.update_settings({"enabled": False})
    cup = add_item(client, marketing, code="cup", name="随行杯", points_price=100, cash_price=2000)
    _redeem_and_pick_up(client, fan, cup, staff)
    assert db.session.scalar(select(Commission)) is None
