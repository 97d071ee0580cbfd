"""Fixtures of the integration tests: the points tests' catalogue and shopper (for calls at the till), an admin, a
loopback webhook receiver and endpoints pointing at it."""
from __future__ import annotations

import pytest

from demo.webhook_receiver import WebhookReceiver
from tests.conftest import bearer
from tests.points.conftest import buy, catalogue, give, shopper  # noqa: F401 - fixtures

BASE = "/api/v1/admin/webhooks"


@pytest.fixture
def admin(operator_token):
    return bearer(operator_token("admin"))


@pytest.fixture
def receiver():
    started = WebhookReceiver().start()
    yield started
    started.stop()


@pytest.fixture
def endpoint(client, admin, receiver):
    def make(events=("purchase.recorded", "points.credited"), url=None) -> dict:
        response = client.post(BASE, headers=admin, json={"url": url or receiver.url, "events": list(events)})
        assert response.status_code == 201, response.get_json()
        answer = response.get_json()
        receiver.secrets.append(answer["secret"])
        return answer

    return make
