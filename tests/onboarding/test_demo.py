"""The demo's old customers: imported once through the real import, with a report to read and a customer to claim."""
from __future__ import annotations

from demo import onboarding as demo_onboarding
from tests.conftest import bearer
from tests.onboarding.helpers import imported_count, member


def test_the_demo_imports_its_old_customers_once_and_laoli_logs_in_as_herself(client, tiers, at):
    at("2026-03-05T10:00:00+08:00")
    assert demo_onboarding.seed() == ["old customers: imported 9 of 12 rows from demo/data/old_customers.csv "
                                      "(3 refused: see the console's 导入老会员 page)"]
    assert demo_onboarding.seed() == []
    assert imported_count() == 9
    body = client.post("/api/v1/auth/wechat-login", json={"code": "test-laoli"}).get_json()
    assert body["member"]["id"] == member("CRM-0003").id
    me = client.get("/api/v1/me", headers=bearer(body["token"])).get_json()
    assert (me["nickname"], me["tier"]["code"], me["points"]["balance"]) == ("李阿姨", "gold", 2000)
