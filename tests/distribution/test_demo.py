"""The demo's distribution: promoters with fans, settled and pending commission, a paid withdrawal and one for
marketing to approve, all written by the real services (so the ledger check after the test covers it)."""
from __future__ import annotations

from distribution import accounts
from tests.conftest import bearer


def test_the_demo_has_promoters_to_click_through(client, program, wxpay):
    from demo import distribution as demo_distribution

    login = client.post("/api/v1/auth/operator-login", json={"username": "marketing", "password": "demo1234"})
    marketing = bearer(login.get_json()["token"])
    lines = demo_distribution.seed()
    assert lines[0].startswith("demo distribution: 3 promoters")
    assert demo_distribution.seed()[0].startswith("demo distribution: already there")
    token = client.post("/api/v1/auth/wechat-login", json={"code": "test-promoter01"}).get_json()["token"]
    card = client.get("/api/v1/me/promoter", headers=bearer(token)).get_json()["promoter"]
    assert card["level"]["code"] == "expert" and card["fans"] == 4
    assert card["pending"] > 0 and card["available"] > 0 and card["withdrawn"] == 800 and card["withdrawing"] == 2400
    queue = client.get("/api/v1/admin/withdrawals?state=awaiting_approval", headers=marketing).get_json()["items"]
    assert [row["withdrawal_no"] for row in queue] == ["WDEMO0002"]
    report = client.get("/api/v1/admin/distribution/report", headers=marketing).get_json()
    assert report["promoters"] == 3 and report["conversion"]["bindings"] == 8
    assert accounts.verify() == []
