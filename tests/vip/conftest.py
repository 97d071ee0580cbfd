import pytest

from demo.fake_wechat import FakeWeChatPay


@pytest.fixture
def wxpay(app, fake_wechat):
    """WeChat Pay on the fake server for this test."""
    saved = app.config["WECHAT_PAY_API_BASE"]
    app.config["WECHAT_PAY_API_BASE"] = fake_wechat.base_url
    yield FakeWeChatPay(fake_wechat, app.config["WECHAT_PAY_API_KEY"], app.config["WECHAT_APPID"],
                        app.config["WECHAT_MCH_ID"])
    app.config["WECHAT_PAY_API_BASE"] = saved


@pytest.fixture
def plan(tiers):
    from vip import service

    return service.save_plan(None, {
        "code": "annual", "name": "年卡VIP", "price": 29900, "duration_days": 365,
        "benefits": {"points_multiplier_percent": 150, "vip_day": {"day_of_month": 8, "multiplier_percent": 200}},
    })
