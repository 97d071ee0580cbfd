"""The console through Flask's test client: sign-in and its checks, roles, CSRF, the till's services."""
from __future__ import annotations

from datetime import timedelta

from app import clock
from app.audit.models import AuditLog
from app.operators import service as operators
from app.operators.models import Operator
from tests.console.helpers import count, csrf_token, post, sign_in
from till.models import Purchase


def test_sign_in_goes_to_the_role_home_and_the_cookie_is_httponly_and_lax(client, program):
    response = sign_in(client, "staff1")
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/till")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/console/till").get_data(as_text=True)
    assert "收银台" in page and "旗舰店" in page
    assert sign_in(client, "admin").headers["Location"].endswith("/console/admin/operators")
    assert sign_in(client, "marketing").headers["Location"].endswith("/console/marketing")


def test_production_sends_the_cookie_over_https_only():
    from config import ProductionConfig

    assert ProductionConfig.SESSION_COOKIE_SECURE is True


def test_wrong_password_is_refused_in_chinese_and_throttled_with_the_api(client, program):
    response = sign_in(client, "staff1", "wrong-password")
    assert response.status_code == 401 and "用户名或密码错误" in response.get_data(as_text=True)
    for _ in range(4):  # the API's failures count against the same username
        client.post("/api/v1/auth/operator-login", json={"username": "staff1", "password": "nope"})
    throttled = sign_in(client, "staff1")
    assert throttled.status_code == 429 and "尝试次数过多" in throttled.get_data(as_text=True)


def test_pages_need_a_session_and_the_right_role(client, program):
    assert client.get("/console/till").headers["Location"].startswith("/console/login")
    sign_in(client, "staff1")
    assert client.get("/console/admin/operators").status_code == 403
    assert client.get("/console/marketing").status_code == 403
    sign_in(client, "marketing")
    assert client.get("/console/till").status_code == 403
    assert client.get("/console/marketing/dashboard").status_code == 200
    assert client.get("/console/admin/stores").status_code == 403


def test_a_disabled_operators_session_stops_at_once(client, program):
    sign_in(client, "staff1")
    assert client.get("/console/till").status_code == 200
    staff1 = Operator.query.filter_by(username="staff1").one()
    operators.update_operator(staff1.id, {"active": False})
    assert client.get("/console/till").headers["Location"].startswith("/console/login")


def test_an_idle_session_ends_after_30_minutes_and_each_request_restarts_the_count(client, program, at):
    sign_in(client, "staff1")
    start = clock.now()
    at(start + timedelta(minutes=25))
    assert client.get("/console/till").status_code == 200
    at(start + timedelta(minutes=50))  # 25 idle minutes since the last request
    assert client.get("/console/till").status_code == 200
    at(start + timedelta(minutes=81))
    response = client.get("/console/till")
    assert response.status_code == 302
    assert client.get("/console/till").status_code == 302


def test_a_post_without_its_csrf_token_changes_nothing(client, program):
    sign_in(client, "admin")
    before = count(Operator)
    response = client.post("/console/admin/operators", data={"username": "clerk9", "password": "password123",
                                                             "role": "staff", "store": "S1"})
    assert response.status_code == 400 and "页面已过期" in response.get_data(as_text=True)
    assert count(Operator) == before
    assert client.post("/console/login", data={"username": "staff1", "password": "demo1234"}).status_code == 400


def test_the_json_api_needs_no_csrf_token(client, program):
    response = client.post("/api/v1/auth/operator-login", json={"username": "staff1", "password": "demo1234"})
    assert response.status_code == 200


def test_admin_creates_disables_resets_and_assigns_operators_audited(client, program):
    sign_in(client, "admin")
    created = post(client, "/console/admin/operators",
                   {"username": "clerk9", "password": "password123", "role": "staff", "store": "S2"},
                   page="/console/admin/operators")
    assert created.status_code == 200 and "已创建 clerk9" in created.get_data(as_text=True)
    clerk = Operator.query.filter_by(username="clerk9").one()
    assert clerk.store.code == "S2" and clerk.role == "staff"
    refused = post(client, "/console/admin/operators", {"username": "clerk10", "password": "password123",
                                                        "role": "staff", "store": ""}, page="/console/admin/operators")
    assert refused.status_code == 422 and "必须指定所属门店" in refused.get_data(as_text=True)
    post(client, f"/console/admin/operators/{clerk.id}", {"action": "assign", "role": "manager", "store": "S1"},
         page="/console/admin/operators")
    post(client, f"/console/admin/operators/{clerk.id}", {"action": "reset", "password": "newpassword1"},
         page="/console/admin/operators")
    post(client, f"/console/admin/operators/{clerk.id}", {"action": "disable"}, page="/console/admin/operators")
    clerk = Operator.query.filter_by(username="clerk9").one()
    assert (clerk.role, clerk.store.code, clerk.active) == ("manager", "S1", False)
    actions = [row.action for row in AuditLog.query.filter_by(target_type="operator", target_id=str(clerk.id))
               .order_by(AuditLog.id)]
    assert actions == ["operator.create", "operator.update", "operator.update", "operator.update"]
    assert AuditLog.query.filter_by(action="operator.update").first().actor_name == "admin"
    own = Operator.query.filter_by(username="admin").one()
    selfish = post(client, f"/console/admin/operators/{own.id}", {"action": "disable"}, page="/console/admin/operators")
    assert selfish.status_code == 422 and "不能停用" in selfish.get_data(as_text=True)


def test_every_operator_changes_their_own_password(client, program):
    sign_in(client, "staff1")
    wrong = post(client, "/console/password", {"current_password": "nope", "new_password": "newpassword1"},
                 page="/console/password")
    assert wrong.status_code == 422 and "当前密码不正确" in wrong.get_data(as_text=True)
    done = post(client, "/console/password", {"current_password": "demo1234", "new_password": "newpassword1"},
                page="/console/password")
    assert done.status_code == 200 and "密码已修改" in done.get_data(as_text=True)
    assert sign_in(client, "staff1", "newpassword1").status_code == 302


def _basket(code: str, **extra) -> list:
    fields = [("member_code", code), ("sku", "TUMBLER"), ("qty", "1")]
    return fields + list(extra.items())


def test_the_till_scans_quotes_with_member_prices_and_coupons_and_records_once(client, shopper):
    member_id, code = shopper
    sign_in(client, "staff1")
    card = post(client, "/console/till/member", {"member_code": code}, headers={"HX-Request": "true"})
    assert "新人礼" in card.get_data(as_text=True) and card.headers["HX-Trigger"] == "member-changed"
    found = client.get("/console/till/products?q=tumb").get_data(as_text=True)
    assert 'data-sku="TUMBLER"' in found
    quote = post(client, "/console/till/basket", _basket(code), headers={"HX-Request": "true"})
    html = quote.get_data(as_text=True)
    assert "¥108.00" in html and 'name="paid" value="10800"' in html  # 128 - 20 (新人礼)
    page = client.get("/console/till").get_data(as_text=True)
    order_no = page.split('name="order_no" value="')[1].split('"')[0]
    coupon_id = html.split('name="coupon_id" value="')[1].split('"')[0]
    form = _basket(code, order_no=order_no, paid="10800", coupon_id=coupon_id)
    first = post(client, "/console/till/checkout", form)
    second = post(client, "/console/till/checkout", form)  # a double submit: a replay
    assert first.status_code == second.status_code == 302
    assert count(Purchase) == 1
    receipt = client.get(first.headers["Location"]).get_data(as_text=True)
    assert order_no in receipt and "收款成功" in receipt and "¥108.00" in receipt


def test_refusals_are_shown_in_chinese(client, shopper):
    member_id, code = shopper
    sign_in(client, "staff1")
    over = post(client, "/console/till/basket", _basket(code, points_to_use="999999"), headers={"HX-Request": "1"})
    assert "积分抵扣超过本单上限" in over.get_data(as_text=True)
    unknown = post(client, "/console/till/basket", [("member_code", code), ("sku", "NOPE"), ("qty", "1")],
                   headers={"HX-Request": "1"})
    assert "商品不存在" in unknown.get_data(as_text=True)
    page = client.get("/console/till").get_data(as_text=True)
    order_no = page.split('name="order_no" value="')[1].split('"')[0]
    mismatch = post(client, "/console/till/checkout", _basket(code, order_no=order_no, paid="1"))
    assert mismatch.status_code == 422 and "实付金额与报价不一致" in mismatch.get_data(as_text=True)
    bad = post(client, "/console/till/member", {"member_code": "123456789012345678"}, headers={"HX-Request": "1"})
    assert "会员码无效" in bad.get_data(as_text=True)
    missing = client.get("/console/till/orders/NO-SUCH", follow_redirects=True)
    assert missing.status_code == 404 and "本店没有这个单号" in missing.get_data(as_text=True)
    verify = post(client, "/console/till/verify", {"coupon_code": "NOPE"}, headers={"HX-Request": "1"})
    assert "找不到该券码" in verify.get_data(as_text=True)


def test_every_code_has_chinese_and_an_unknown_one_a_generic_sentence():
    from console.messages import FALLBACK, MESSAGES, message_for

    assert message_for("member_code_used") == MESSAGES["member_code_used"]
    assert message_for("no_such_code") == FALLBACK
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in MESSAGES.values())


def test_refund_by_lines_amount_and_full_in_this_store_only(client, shopper):
    member_id, code = shopper
    sign_in(client, "staff1")
    form = [("member_code", code), ("sku", "TUMBLER"), ("qty", "2"), ("order_no", "S1-R1"), ("coupons_chosen", "1")]
    quote = post(client, "/console/till/basket", form, headers={"HX-Request": "1"}).get_data(as_text=True)
    paid = quote.split('name="paid" value="')[1].split('"')[0]
    assert post(client, "/console/till/checkout", form + [("paid", paid)]).status_code == 302
    page = client.get("/console/till/orders/S1-R1").get_data(as_text=True)
    refund_no = page.split('name="refund_no" value="')[1].split('"')[0]
    lines = post(client, "/console/till/orders/S1-R1/refund",
                 {"mode": "lines", "refund_no": refund_no, "sku": "TUMBLER", "qty": "1"},
                 page="/console/till/orders/S1-R1")
    assert lines.status_code == 200 and "已退款" in lines.get_data(as_text=True)
    mixed = post(client, "/console/till/orders/S1-R1/refund", {"mode": "amount", "refund_no": "R-2", "amount": "1"},
                 page="/console/till/orders/S1-R1")
    assert mixed.status_code == 422 and "另一种方式" in mixed.get_data(as_text=True)
    sign_in(client, "staff2")  # store S2 cannot see or refund S1's order
    assert client.get("/console/till/orders/S1-R1").status_code == 404
    sign_in(client, "staff1")
    full = post(client, "/console/till/orders/S1-R1/refund", {"mode": "full", "refund_no": "R-3"},
                page="/console/till/orders/S1-R1")
    assert "整单已退" in full.get_data(as_text=True)


def test_tokens_come_from_the_page(client, program):
    assert csrf_token(client.get("/console/login").get_data(as_text=True))


def test_the_till_lists_the_gifts_waiting_at_its_store(client, program):
    from sqlalchemy import select

    from app.extensions import db
    from mall import service as mall
    from mall.models import CatalogItem
    from members.models import Member
    from points import ledger

    client.post("/api/v1/auth/wechat-login", json={"code": "test-gift"})
    member = db.session.scalar(select(Member).limit(1))
    ledger.credit(member.id, 2000, kind="grant", key="test:gifts", cause_type="test")
    db.session.commit()
    mug = db.session.scalar(select(CatalogItem).where(CatalogItem.code == "mug"))  # two a month per member
    waiting = mall.redeem(member.id, mug.id, 1, store_code="S1")
    elsewhere = mall.redeem(member.id, mug.id, 1, store_code="S2")
    sign_in(client, "staff1")  # store S1
    page = client.get("/console/till/pickups").get_data(as_text=True)
    assert f"#{waiting.id} 定制马克杯" in page and f"#{elsewhere.id} " not in page
    handed = post(client, f"/console/till/pickups/{waiting.id}/fulfil", {})
    assert handed.status_code == 200 and "已交付" in handed.get_data(as_text=True)
    assert "暂无待取礼品" in client.get("/console/till/pickups").get_data(as_text=True)
