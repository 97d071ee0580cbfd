"""Shared test helpers for tasks: define tasks through the admin API."""
from __future__ import annotations

CHECKIN = {
    "code": "checkin", "kind": "checkin", "title": "每日签到", "reward": {"points": 5},
    "streak_bonuses": [{"day": 3, "reward": {"points": 10}}, {"day": 7, "reward": {"points": 50}}],
    "milestones": [{"total": 10, "reward": {"points": 100, "growth": 20}}],
}


def define(client, marketing, **body) -> dict:
    response = client.post("/api/v1/admin/tasks", json=body, headers=marketing)
    assert response.status_code == 201, response.get_json()
    return response.get_json()
