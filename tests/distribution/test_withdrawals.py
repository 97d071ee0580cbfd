"""Withdrawals: limits, approval, WeChat Pay's transfer (paid, refused, unknown), idempotency, and concurrent
requests that can never take more than the settled balance (threads, on SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from distribution import accounts, commission, program
from distribution.models import Promoter, Withdrawal
from tests.concurrency import fire


@pytest.fixture
def settled(buy, promoter, fan):
    """The promoter has 3,000 fen settled (a 300-yuan sale at 10%)."""
    buy(fan[1], [("MUG", 3)], order_no="W-SALE")
    commission.settle_due(clock.now() + timedelta(days=8))
    return promoter


def _card(client, headers) -> dict:
    return client.get("/api/v1/me/promoter", headers=headers).get_json()["promoter"]


def _withdraw(client, headers, number: str, amount: int, **extra):
    return client.post("/api/v1/me/promoter/withdrawals", headers=headers,
                       json={"withdrawal_no": number, "amount": amount, **extra})


def test_a_withdrawal_is_paid_to_the_wallet_once(client, settled, wxpay, fake_wechat):
    headers = settled[0]
    response = _withdraw(client, headers, "WX1", 1000)
    assert response.status_code == 201
    body = response.get_json()
    assert body["state"] == "paid" and body["payment_no"]
    sent = [call for call in fake_wechat.calls if call["path"].endswith("/transfers")]
    assert len(sent) == 1 and b"<partner_trade_no><![CDATA[WX1]]></partner_trade_no>" in sent[0]["raw"]
    assert b"<check_name><![CDATA[NO_CHECK]]></check_name>" in sent[0]["raw"]
    again = _withdraw(client, headers, "WX1", 1000)  # the mini-program retried: the same withdrawal
    assert again.status_code == 201 and again.get_json()["id"] == body["id"]
    assert len([c for c in fake_wechat.calls if c["path"].endswith("/transfers")]) == 1
    card = _card(client, headers)
    assert (card["available"], card["withdrawing"], card["withdrawn"]) == (2000, 0, 1000)
    conflict = _withdraw(client, headers, "WX1", 999)
    assert conflict.status_code == 409 and conflict.get_json()["error"]["code"] == "withdrawal_conflict"


@pytest.mark.parametrize("refusal", ["NOTENOUGH", "NAME_MISMATCH"])
def test_a_refused_transfer_returns_the_money(client, settled, wxpay, refusal):
    wxpay.transfer_outcomes.append(refusal)
    body = _withdraw(client, settled[0], "WX2", 1500, real_name="张三").get_json()
    assert body["state"] == "failed" and body["failure"] == refusal
    card = _card(client, settled[0])
    assert (card["available"], card["withdrawing"], card["withdrawn"]) == (3000, 0, 0)


def test_an_unknown_outcome_stays_processing_and_a_retry_pays_it_once(client, settled, wxpay, marketing):
    wxpay.transfer_outcomes.append("SYSTEMERROR")
    body = _withdraw(client, settled[0], "WX3", 1200).get_json()
    assert body["state"] == "processing"
    assert _card(client, settled[0])["withdrawing"] == 1200
    retried = client.post(f"/api/v1/admin/withdrawals/{body['id']}/retry", headers=marketing)
    assert retried.status_code == 200 and retried.get_json()["state"] == "paid"
    again = client.post(f"/api/v1/admin/withdrawals/{body['id']}/retry", headers=marketing)
    assert again.status_code == 409
    card = _card(client, settled[0])
    assert (card["available"], card["withdrawing"], card["withdrawn"]) == (1800, 0, 1200)


def test_minimum_daily_count_and_balance(client, settled, wxpay):
    headers = settled[0]
    low = _withdraw(client, headers, "WL1", 99)
    assert low.status_code == 422 and low.get_json()["error"]["code"] == "below_minimum"
    over = _withdraw(client, headers, "WL2", 3001)
    assert over.status_code == 422 and over.get_json()["error"]["code"] == "insufficient_balance"
    for number in ("WL3", "WL4", "WL5"):
        assert _withdraw(client, headers, number, 100).status_code == 201
    fourth = _withdraw(client, headers, "WL6", 100)
    assert fourth.status_code == 409 and fourth.get_json()["error"]["code"] == "daily_limit"
    assert _card(client, headers)["available"] == 2700


def test_above_the_threshold_marketing_approves_or_rejects(client, settled, wxpay, marketing):
    program.update_settings({"withdraw_approval_over": 1000})
    first = _withdraw(client, settled[0], "WA1", 1500).get_json()
    second = _withdraw(client, settled[0], "WA2", 1500).get_json()
    assert first["state"] == second["state"] == "awaiting_approval"
    queue = client.get("/api/v1/admin/withdrawals?state=awaiting_approval", headers=marketing).get_json()
    assert [row["withdrawal_no"] for row in queue["items"]] == ["WA2", "WA1"]
    approved = client.post(f"/api/v1/admin/withdrawals/{first['id']}/approve", headers=marketing)
    assert approved.status_code == 200 and approved.get_json()["state"] == "paid"
    rejected = client.post(f"/api/v1/admin/withdrawals/{second['id']}/reject", headers=marketing,
                           json={"reason": "可疑订单"})
    assert rejected.get_json()["state"] == "rejected"
    twice = client.post(f"/api/v1/admin/withdrawals/{second['id']}/approve", headers=marketing)
    assert twice.status_code == 409
    card = _card(client, settled[0])
    assert (card["available"], card["withdrawing"], card["withdrawn"]) == (1500, 0, 1500)


def test_only_a_promoter_withdraws_and_bad_input_changes_nothing(client, settled, fan, wxpay):
    response = _withdraw(client, fan[0], "WF1", 100)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "not_promoter"
    for amount in (-5, 0, 10**12, "100", 1.5, True):
        assert _withdraw(client, settled[0], "WF2", amount).status_code == 422, amount
    assert _withdraw(client, settled[0], "bad number!", 100).status_code == 422
    assert db.session.scalar(select(Withdrawal)) is None


def test_concurrent_withdrawals_never_exceed_the_settled_balance(app, client, settled, wxpay):
    """Eight requests of 1,000 fen each race for 3,000 settled: exactly three are paid, the balance never
    goes below zero, and the ledger agrees."""
    program.update_settings({"withdraw_daily_count": 20})
    headers = settled[0]
    results = fire(app, [("POST", "/api/v1/me/promoter/withdrawals", headers,
                          {"withdrawal_no": f"WC{index}", "amount": 1000}) for index in range(8)])
    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) == 3 and statuses.count(422) == 5, results
    db.session.expire_all()
    promoter = db.session.get(Promoter, settled[2].id)
    assert (promoter.balance, promoter.frozen, promoter.withdrawn) == (0, 0, 3000)
    assert accounts.verify() == []


def test_concurrent_replays_of_one_withdrawal_pay_once(app, settled, wxpay, fake_wechat):
    results = fire(app, [("POST", "/api/v1/me/promoter/withdrawals", settled[0],
                          {"withdrawal_no": "WR1", "amount": 700}) for _ in range(4)])
    assert {status for status, _ in results} == {201} and len({body["id"] for _, body in results}) == 1
    assert len([c for c in fake_wechat.calls if c["path"].endswith("/transfers")]) == 1
    db.session.expire_all()
    assert db.session.get(Promoter, settled[2].id).balance == 2300
