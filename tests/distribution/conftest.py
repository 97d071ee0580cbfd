"""Fixtures of the distribution tests: the points tests' catalogue and till, a program switched on with two
levels and a catch-all rule, a promoter and a shopper bound to them, WeChat Pay on the fake server."""
from __future__ import annotations

import pytest

from demo.fake_wechat import FakeWeChatPay
from distribution import program, promoters
from tests.conftest import bearer
from tests.points.conftest import buy, catalogue, give, shopper  # noqa: F401  (fixtures shared with the till's tests)


@pytest.fixture
def dist(catalogue):  # noqa: F811
    """Distribution on: 10% on everything, 20% on coffee for level 2 (2 fans or 1,000 yuan), 7-day window."""
    program.update_settings({"enabled": True, "return_days": 7, "binding_days": 30, "withdraw_min": 100,
                             "withdraw_daily_count": 3, "withdraw_approval_over": 50_000})
    one = program.save_level(None, {"code": "L1", "name": "新星", "rank": 0})
    two = program.save_level(None, {"code": "L2", "name": "达人", "rank": 1, "min_fans": 2, "min_gmv": 100_000})
    program.save_rule(None, {"name": "全场", "rate_bp": 1000})
    program.save_rule(None, {"name": "咖啡达人", "category": "coffee", "level_id": two.id, "rate_bp": 2000})
    return {"L1": one, "L2": two}


@pytest.fixture
def promoter(dist, login):
    """A granted promoter: (token headers, member_id, promoter)."""
    token, member_id = login("pat")
    return bearer(token), member_id, promoters.grant(member_id)


@pytest.fixture
def fan(client, login, promoter):
    """A shopper bound to the promoter through a share: (headers, member_id)."""
    token, member_id = login("fay")
    response = client.post("/api/v1/me/binding", headers=bearer(token),
                           json={"promoter_code": promoter[2].code, "channel": "share"})
    assert response.status_code == 200 and response.get_json()["outcome"] == "bound", response.get_json()
    return bearer(token), member_id


@pytest.fixture
def wxpay(app, fake_wechat):
    saved = app.config["WECHAT_PAY_API_BASE"]
    app.config["WECHAT_PAY_API_BASE"] = fake_wechat.base_url
    yield FakeWeChatPay(fake_wechat, app.config["WECHAT_PAY_API_KEY"], app.config["WECHAT_APPID"],
                        app.config["WECHAT_MCH_ID"])
    app.config["WECHAT_PAY_API_BASE"] = saved
