"""Marketing's distribution page: the approval queue (approve pays through WeChat Pay, reject returns the money)
and the promoters (grant, revoke), through the console's real forms."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.operators.models import Store
from demo.fake_wechat import FakeWeChatPay
from distribution import attribution, commission, promoters, withdrawals
from distribution import program as distribution_program
from members import service as members
from tests.console.helpers import post, sign_in
from till import pricing, purchases


@pytest.fixture
def wxpay(app, fake_wechat):
    saved = app.config["WECHAT_PAY_API_BASE"]
    app.config["WECHAT_PAY_API_BASE"] = fake_wechat.base_url
    yield FakeWeChatPay(fake_wechat, app.config["WECHAT_PAY_API_KEY"], app.config["WECHAT_APPID"],
                        app.config["WECHAT_MCH_ID"])
    app.config["WECHAT_PAY_API_BASE"] = saved


@pytest.fixture
def queue(program, wxpay):
    """A promoter with 25.60 yuan settled and two withdrawals above the 5-yuan approval threshold."""
    distribution_program.update_settings({"enabled": True, "withdraw_approval_over": 500})
    distribution_program.save_rule(None, {"name": "全场", "rate_bp": 1000})
    promoter_id = members.wechat_login("test-pages-promoter")["member"].id
    members.update_profile(promoter_id, {"nickname": "推广小王"})
    promoter = promoters.grant(promoter_id)
    fan_id = members.wechat_login("test-pages-fan")["member"].id
    attribution.bind(fan_id, promoter.code, "share")
    items = [{"sku": "TUMBLER", "qty": 2}]
    paid = pricing.build(pricing.resolve_member({"member_id": fan_id}), items, [], None)["payable"]
    store_id = db.session.scalar(select(Store.id).order_by(Store.id))
    purchases.record(store_id, None, {"order_no": "PAGES1", "member_id": fan_id, "items": items, "paid": paid})
    commission.settle_due(clock.now() + timedelta(days=8))
    first = withdrawals.withdraw(promoter_id, "WPAGE1", 1000)
    second = withdrawals.withdraw(promoter_id, "WPAGE2", 1200)
    return promoter, first, second


def test_marketing_approves_and_rejects_withdrawals(client, queue):
    promoter, first, second = queue
    sign_in(client, "marketing")
    page = client.get("/console/distribution").get_data(as_text=True)
    assert "WPAGE1" in page and "WPAGE2" in page and "推*" in page and "¥10.00" in page
    approved = post(client, "/console/distribution/withdrawals", {"withdrawal_id": first.id, "action": "approve"},
                    page="/console/distribution").get_data(as_text=True)
    assert "已批准，微信已打款" in approved and 'data-withdrawal="WPAGE1"' not in approved
    rejected = post(client, "/console/distribution/withdrawals",
                    {"withdrawal_id": second.id, "action": "reject", "reason": "核实中"},
                    page="/console/distribution").get_data(as_text=True)
    assert "已驳回" in rejected and "暂无待审批的提现" in rejected
    again = post(client, "/console/distribution/withdrawals", {"withdrawal_id": second.id, "action": "approve"},
                 page="/console/distribution")
    assert again.status_code == 422 and "该提现申请已处理" in again.get_data(as_text=True)
    bad = post(client, "/console/distribution/withdrawals", {"withdrawal_id": "99999999999", "action": "approve"},
               page="/console/distribution")
    assert bad.status_code == 422


def test_marketing_grants_and_revokes_promoters(client, queue):
    promoter, _, _ = queue
    sign_in(client, "marketing")
    member_id = members.wechat_login("test-pages-koc")["member"].id
    granted = post(client, "/console/distribution/promoters", {"action": "grant", "member_id": member_id},
                   page="/console/distribution")
    assert "已授予推广员资格" in granted.get_data(as_text=True)
    twice = post(client, "/console/distribution/promoters", {"action": "grant", "member_id": member_id},
                 page="/console/distribution")
    assert twice.status_code == 422 and "该会员已是推广员" in twice.get_data(as_text=True)
    revoked = post(client, "/console/distribution/promoters",
                   {"action": "revoke", "promoter_id": promoter.id, "reason": "刷单"}, page="/console/distribution")
    assert "已取消推广员资格" in revoked.get_data(as_text=True)
    assert client.get("/console/distribution?state=revoked").get_data(as_text=True).count("data-promoter=") == 1


def test_the_page_is_marketings(client, program):
    sign_in(client, "staff1")
    assert client.get("/console/distribution").status_code == 403
