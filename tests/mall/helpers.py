"""Shared helpers for points-mall tests."""
from __future__ import annotations

from app.extensions import db
from points import ledger as points_service

PICKUP_STORE = "S1"  # where the tests' shoppers collect their gifts
TOTE = {"code": "tote", "name": "帆布袋", "kind": "pickup", "points_price": 100, "stock": 10,
        "image_url": "https://cdn.example.com/tote.png"}


def give_points(member_id: int, amount: int, key: str = "seed") -> None:
    points_service.credit(member_id, amount, kind="grant", key=f"{key}:{member_id}", cause_type="grant")
    db.session.commit()


def add_item(client, marketing, **overrides) -> dict:
    response = client.post("/api/v1/admin/catalog", json={**TOTE, **overrides}, headers=marketing)
    assert response.status_code == 201, response.get_json()
    return response.get_json()
