"""Buying the VIP through WeChat Pay: unified order, signed notify, replays, forgeries, renewals, expiry."""
import threading
from datetime import date, timedelta

import xmltodict
from wechatpy.pay.utils import calculate_signature

from app.extensions import db
from coupons.models import Coupon
from members.models import Member, MemberTag
from tests.concurrency import end_test_transaction
from tests.conftest import bearer
from tests.coupons.helpers import template
from till import membership
from vip import service
from vip.models import VipOrder, VipPeriod


def _order(client, token, plan_id):
    response = client.post("/api/v1/vip/orders", headers=bearer(token), json={"plan_id": plan_id})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _notify(client, xml: bytes):
    response = client.post("/api/v1/pay/notify", data=xml, content_type="text/xml")
    assert response.status_code == 200
    return xmltodict.parse(response.data)["xml"]["return_code"]


def _member(member_id: int) -> Member:
    db.session.expire_all()
    return db.session.get(Member, member_id)


def test_order_gives_signed_payment_parameters(client, login, plan, wxpay, app):
    token, member_id = login("alice")
    created = _order(client, token, plan.id)
    order = created["order"]
    assert order["amount"] == 29900 and order["state"] == "created" and order["duration_days"] == 365
    sent = wxpay.orders[order["order_no"]]
    assert sent["total_fee"] == "29900" and sent["openid"] == "test-alice" and sent["trade_type"] == "JSAPI"
    assert sent["notify_url"] == app.config["WECHAT_PAY_NOTIFY_URL"]
    payment = created["payment"]
    assert payment["package"] == f"prepay_id=wx-prepay-{order['order_no']}"
    unsigned = {k: v for k, v in payment.items() if k != "paySign"}
    assert payment["paySign"] == calculate_signature(unsigned, app.config["WECHAT_PAY_API_KEY"])
    assert not _member(member_id).vip_active()  # nothing until WeChat Pay says it is paid
    mine = client.get(f"/api/v1/vip/orders/{order['order_no']}", headers=bearer(token))
    assert mine.status_code == 200 and mine.get_json()["state"] == "created"
    other, _ = login("bob")
    assert client.get(f"/api/v1/vip/orders/{order['order_no']}", headers=bearer(other)).status_code == 404


def test_notify_activates_once(client, login, plan, wxpay, at):
    now = at("2026-03-01T10:00:00+08:00")
    token, member_id = login("alice")
    order_no = _order(client, token, plan.id)["order"]["order_no"]
    xml = wxpay.notify_xml(order_no, 29900, transaction_id="T-1")
    assert _notify(client, xml) == "SUCCESS"
    member = _member(member_id)
    assert member.vip_until == now + timedelta(days=365) and member.vip_active()
    assert db.session.get(MemberTag, (member_id, "vip")) is not None
    me = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert me["vip"]["active"] is True
    at("2026-03-01T10:05:00+08:00")
    assert _notify(client, xml) == "SUCCESS"  # WeChat repeats notifies: acknowledged, nothing changes
    assert _notify(client, wxpay.notify_xml(order_no, 29900, transaction_id="T-2")) == "SUCCESS"
    assert _member(member_id).vip_until == now + timedelta(days=365)
    assert db.session.query(VipPeriod).count() == 1
    assert db.session.query(VipOrder).one().transaction_id == "T-1"


def test_renewal_stacks_on_the_current_end(client, login, plan, wxpay, at):
    first_paid = at("2023-03-01T10:00:00+08:00")
    token, member_id = login("alice")
    first = _order(client, token, plan.id)["order"]["order_no"]
    _notify(client, wxpay.notify_xml(first, 29900))
    at("2023-10-01T10:00:00+08:00")
    token, _ = login("alice")  # tokens last a week (and are not accepted before they are issued)
    second = _order(client, token, plan.id)["order"]["order_no"]
    _notify(client, wxpay.notify_xml(second, 29900))
    assert _member(member_id).vip_until == first_paid + timedelta(days=730)
    periods = db.session.query(VipPeriod).order_by(VipPeriod.id).all()
    assert periods[1].starts_at == periods[0].ends_at
    lapsed = at("2026-01-01T10:00:00+08:00")  # long after both: a new VIP starts now
    token, _ = login("alice")
    third = _order(client, token, plan.id)["order"]["order_no"]
    _notify(client, wxpay.notify_xml(third, 29900))
    assert _member(member_id).vip_until == lapsed + timedelta(days=365)


def test_forged_and_wrong_notifies_change_nothing(client, login, plan, wxpay, app, caplog, monkeypatch):
    monkeypatch.setattr(service.log, "disabled", False)  # alembic's logging config (migration test) disables it
    token, member_id = login("alice")
    order_no = _order(client, token, plan.id)["order"]["order_no"]
    forged = [
        wxpay.notify_xml(order_no, 29900, key="not-the-merchant-key-0123456789ab"),
        wxpay.notify_xml(order_no, 1),
        wxpay.notify_xml(order_no, 29901),
        wxpay.notify_xml("VIP-UNKNOWN", 29900),
        wxpay.notify_xml(order_no, 29900, mch_id="another-mch"),
        wxpay.notify_xml(order_no, 29900, appid="wx-another-app"),
        wxpay.notify_xml(order_no, 29900).replace(b"29900", b"1", 1),  # tampered after signing
        b"<xml><not closed>",
        b"",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><a>&a;</a></xml>',
    ]
    for xml in forged:
        assert _notify(client, xml) == "FAIL", xml
    assert "payment notify" in caplog.text
    assert _member(member_id).vip_until is None
    assert db.session.query(VipOrder).one().state == "created"
    assert db.session.query(VipPeriod).count() == 0
    unpaid = wxpay.notify_xml(order_no, 29900, result_code="FAIL", err_code="NOTENOUGH")
    assert _notify(client, unpaid) == "SUCCESS"  # heard, and nothing was paid
    assert db.session.query(VipOrder).one().state == "created"


def test_buying_needs_a_member_and_a_plan_on_sale(client, login, plan, wxpay, marketing):
    assert client.post("/api/v1/vip/orders", json={"plan_id": plan.id}).status_code == 401
    assert client.post("/api/v1/vip/orders", headers=marketing, json={"plan_id": plan.id}).status_code == 403
    token, _ = login("alice")
    for body, status in (({}, 422), ({"plan_id": "1"}, 422), ({"plan_id": -1}, 422), ({"plan_id": 999}, 404),
                         ({"plan_id": plan.id, "amount": 1}, 422)):
        assert client.post("/api/v1/vip/orders", headers=bearer(token), json=body).status_code == status, body
    service.save_plan(plan.id, {"active": False})
    assert client.post("/api/v1/vip/orders", headers=bearer(token), json={"plan_id": plan.id}).status_code == 404
    assert db.session.query(VipOrder).count() == 0
    assert wxpay.orders == {}


def test_wechat_pay_refusal_creates_no_order(client, login, plan, wxpay, app):
    token, _ = login("alice")
    wxpay.fail_next = "SYSTEMERROR"
    response = client.post("/api/v1/vip/orders", headers=bearer(token), json={"plan_id": plan.id})
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "wechat_pay_error"
    app.config["WECHAT_PAY_API_KEY"], saved = "a-key-wechat-does-not-know-0123456", app.config["WECHAT_PAY_API_KEY"]
    try:
        response = client.post("/api/v1/vip/orders", headers=bearer(token), json={"plan_id": plan.id})
    finally:
        app.config["WECHAT_PAY_API_KEY"] = saved
    assert response.status_code == 503
    app.config["WECHAT_PAY_API_BASE"] = "http://127.0.0.1:9"
    response = client.post("/api/v1/vip/orders", headers=bearer(token), json={"plan_id": plan.id})
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "wechat_pay_unreachable"
    assert db.session.query(VipOrder).count() == 0


def test_old_orders_keep_their_price(client, login, plan, wxpay):
    token, member_id = login("alice")
    order_no = _order(client, token, plan.id)["order"]["order_no"]
    service.save_plan(plan.id, {"price": 39900, "duration_days": 30})
    assert _notify(client, wxpay.notify_xml(order_no, 39900)) == "FAIL"
    assert _notify(client, wxpay.notify_xml(order_no, 29900)) == "SUCCESS"
    period = db.session.query(VipPeriod).one()
    assert period.ends_at - period.starts_at == timedelta(days=365)


def test_multipliers_vip_and_vip_day(client, login, plan, wxpay, at, tiers):
    at("2026-03-07T10:00:00+08:00")
    token, member_id = login("alice")
    _notify(client, wxpay.notify_xml(_order(client, token, plan.id)["order"]["order_no"], 29900))
    assert membership.membership_multipliers(member_id, date(2026, 3, 7)) == [
        {"name": "tier:normal", "percent": 100}, {"name": "vip:annual", "percent": 150}]
    at("2026-03-08T10:00:00+08:00")
    assert membership.membership_multipliers(member_id, date(2026, 3, 8)) == [
        {"name": "tier:normal", "percent": 100}, {"name": "vip:annual", "percent": 150},
        {"name": "vip_day", "percent": 200}]
    at("2027-03-08T10:00:00+08:00")  # the VIP ended on 2027-03-07
    assert membership.membership_multipliers(member_id, date(2027, 3, 8)) == [
        {"name": "tier:normal", "percent": 100}]


def test_expire_vips(client, login, plan, wxpay, at):
    at("2026-03-01T10:00:00+08:00")
    token, member_id = login("alice")
    _notify(client, wxpay.notify_xml(_order(client, token, plan.id)["order"]["order_no"], 29900))
    at("2027-02-28T10:00:00+08:00")
    assert service.expire_vips()["changed"] == 0
    at("2027-03-01T10:00:01+08:00")
    assert service.expire_vips() == {"scanned": 1, "changed": 1, "skipped": 0, "failed": 0}
    assert db.session.query(VipPeriod).one().state == "ended"
    assert db.session.get(MemberTag, (member_id, "vip")) is None
    assert service.expire_vips()["scanned"] == 0


def test_expiry_keeps_the_tag_of_a_renewed_vip(client, login, plan, wxpay, at):
    at("2026-03-01T10:00:00+08:00")
    token, member_id = login("alice")
    _notify(client, wxpay.notify_xml(_order(client, token, plan.id)["order"]["order_no"], 29900))
    _notify(client, wxpay.notify_xml(_order(client, token, plan.id)["order"]["order_no"], 29900))
    at("2027-03-02T10:00:00+08:00")
    assert service.expire_vips()["changed"] == 1
    assert db.session.get(MemberTag, (member_id, "vip")) is not None


def test_expiry_in_batches_ends_each_period_once(client, login, plan, wxpay, at):
    """Batches of one period: every ended period leaves the candidates; a member's tag goes only when no
    VIP is left (the renewed member's second period runs on), and a member whose tag was removed by hand
    is not an error."""
    at("2026-03-01T10:00:00+08:00")
    ids = {}
    for name in ("ann", "ben", "cat"):
        token, ids[name] = login(name)
        _notify(client, wxpay.notify_xml(_order(client, token, plan.id)["order"]["order_no"], 29900))
        if name == "ben":
            _notify(client, wxpay.notify_xml(_order(client, token, plan.id)["order"]["order_no"], 29900))
    db.session.delete(db.session.get(MemberTag, (ids["cat"], "vip")))
    db.session.commit()
    at("2027-03-02T10:00:00+08:00")
    assert service.expire_vips(batch_size=1) == {"scanned": 3, "changed": 3, "skipped": 0, "failed": 0}
    assert {name: db.session.get(MemberTag, (member_id, "vip")) is not None for name, member_id in ids.items()} == {
        "ann": False, "ben": True, "cat": False}
    assert sorted(p.state for p in db.session.query(VipPeriod)) == ["active", "ended", "ended", "ended"]
    assert service.expire_vips(batch_size=1)["scanned"] == 0


def test_vip_monthly_pack(client, login, wxpay, at, tiers):
    pack = template(claimable=False)
    plan = service.save_plan(None, {"code": "annual", "name": "年卡", "price": 29900, "duration_days": 365,
                                    "benefits": {"monthly_pack": [{"coupon_template_id": pack.id, "count": 1}]}})
    at("2026-03-05T10:00:00+08:00")
    token, member_id = login("alice")
    login("bob")
    _notify(client, wxpay.notify_xml(_order(client, token, plan.id)["order"]["order_no"], 29900))
    from benefits import grants

    # the pack arrives with the payment, not at the next monthly run, and that run does not give it again
    coupons = [(c.member_id, c.template_id, c.grant_key, c.source, c.reason, c.state)
               for c in db.session.query(Coupon)]
    assert coupons == [(member_id, pack.id, f"vip_pack:{member_id}:2026-03:{pack.id}:0", "grant", "vip_monthly_pack",
                        "available")]
    assert grants.grant_monthly_packs()["changed"] == 0
    at("2026-04-01T02:00:00+08:00")
    assert grants.grant_monthly_packs()["changed"] == 1  # April's, by the job
    assert db.session.query(Coupon).count() == 2
    at("2027-04-01T10:00:00+08:00")
    assert grants.grant_monthly_packs()["changed"] == 0  # the VIP is over
    assert db.session.query(Coupon).count() == 2


def test_mark_paid_only_in_the_demo(client, login, plan, wxpay, app):
    token, member_id = login("alice")
    order_no = _order(client, token, plan.id)["order"]["order_no"]
    runner = app.test_cli_runner()
    result = runner.invoke(args=["vip", "mark-paid", order_no])
    assert result.exit_code != 0 and "demo_only" in result.output
    assert _member(member_id).vip_until is None
    app.config["MODE"] = "embedded"
    try:
        result = runner.invoke(args=["vip", "mark-paid", order_no])
        assert result.exit_code == 0, result.output
        assert runner.invoke(args=["vip", "mark-paid", "NOPE"]).exit_code != 0
    finally:
        app.config["MODE"] = "test"
    assert _member(member_id).vip_active()


def test_concurrent_notifies_activate_once(client, login, plan, wxpay, app):
    token, member_id = login("alice")
    order_no = _order(client, token, plan.id)["order"]["order_no"]
    xml = wxpay.notify_xml(order_no, 29900)
    answers = []

    def post():
        with app.app_context():
            answers.append(app.test_client().post("/api/v1/pay/notify", data=xml, content_type="text/xml").status_code)

    end_test_transaction()
    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 8
    assert db.session.query(VipPeriod).count() == 1
    member = _member(member_id)
    period = db.session.query(VipPeriod).one()
    assert member.vip_until == period.ends_at


def test_oversized_notify_is_refused(client, login, plan, wxpay):
    token, member_id = login("alice")
    order_no = _order(client, token, plan.id)["order"]["order_no"]
    padded = wxpay.notify_xml(order_no, 29900, attach="x" * 70_000)
    assert _notify(client, padded) == "FAIL"
    assert _member(member_id).vip_until is None


def test_a_member_without_a_wechat_identity_cannot_order(client, login, plan, wxpay, app):
    token, _ = login("alice")
    app.config["WECHAT_APPID"] = "wx-another-app"
    try:
        response = client.post("/api/v1/vip/orders", headers=bearer(token), json={"plan_id": plan.id})
    finally:
        app.config["WECHAT_APPID"] = "wx-test-appid"
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "no_openid"
    assert db.session.query(VipOrder).count() == 0


def test_job_commands(app, tiers):
    runner = app.test_cli_runner()
    for args in (["tiers", "review", "--date", "2026-05-20"], ["tiers", "birthdays", "--date", "2026-05-20"],
                 ["tiers", "monthly-packs", "--month", "2026-05"], ["vip", "expire"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0 and "'failed': 0" in result.output, (args, result.output)
    bad = runner.invoke(args=["tiers", "monthly-packs", "--month", "May"])
    assert bad.exit_code != 0 and "Must be YYYY-MM" in bad.output


def _signed_with_a_repeated_element(wxpay, order_no: str) -> bytes:
    """A notify carrying <total_fee> twice, signed over what xmltodict makes of it (a list): only the key's
    holder could send it, but it crashed the notify (int(list)) instead of being refused."""
    fields = {"appid": wxpay.appid, "mch_id": wxpay.mch_id, "nonce_str": "n1", "result_code": "SUCCESS",
              "return_code": "SUCCESS", "out_trade_no": order_no, "total_fee": ["29900", "29900"],
              "transaction_id": "T-DUP"}
    sign = calculate_signature(fields, wxpay.api_key)
    inner = "".join(f"<{k}>{x}</{k}>" for k, v in fields.items() for x in (v if isinstance(v, list) else [v]))
    return f"<xml>{inner}<sign>{sign}</sign></xml>".encode()


def test_malformed_notifies_get_fail_and_change_nothing(client, login, plan, wxpay):
    token, member_id = login("alice")
    order_no = _order(client, token, plan.id)["order"]["order_no"]
    malformed = [
        b"<xml>abc</xml>",
        b"<xml/>",
        b"<xml></xml>",
        b"<other><total_fee>1</total_fee></other>",
        b'<xml><total_fee currency="CNY">29900</total_fee></xml>',
        b"<xml><total_fee><fen>29900</fen></total_fee></xml>",
        b"<xml><total_fee>1</total_fee><total_fee>2</total_fee></xml>",
        _signed_with_a_repeated_element(wxpay, order_no),
        b"<xml>" + b"<a>x</a>" * 20_000 + b"</xml>",  # 160 KB: above the notify's 64 KB, read no further
    ]
    for xml in malformed:
        response = client.post("/api/v1/pay/notify", data=xml, content_type="text/xml")
        assert response.status_code == 200 and response.content_type.startswith("text/xml"), xml[:60]
        assert xmltodict.parse(response.data)["xml"]["return_code"] == "FAIL", xml[:60]
    assert _member(member_id).vip_until is None
    assert db.session.query(VipOrder).one().state == "created"
    assert db.session.query(VipPeriod).count() == 0
    assert _notify(client, wxpay.notify_xml(order_no, 29900)) == "SUCCESS"  # the real one still goes through
