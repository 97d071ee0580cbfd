"""The promoter pack bought through WeChat Pay, on the VIP card's notify rules: signed, for the order's amount,
replay-safe."""
from __future__ import annotations

import threading

import xmltodict
from sqlalchemy import func, select

from app.extensions import db
from distribution import program
from distribution.models import PackOrder, Promoter
from tests.concurrency import end_test_transaction
from tests.conftest import bearer


def _notify(client, xml: bytes) -> str:
    response = client.post("/api/v1/pay/promoter-notify", data=xml, headers={"Content-Type": "text/xml"})
    return xmltodict.parse(response.data)["xml"]["return_code"]


def _order(client, headers) -> str:
    response = client.post("/api/v1/me/promoter/pack-orders", headers=headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["payment"]["package"].startswith("prepay_id=")
    return response.get_json()["order"]["order_no"]


def test_a_paid_pack_makes_a_promoter_once(app, client, dist, login, wxpay):
    program.update_settings({"pack_price": 19_900})
    token, member_id = login("pam")
    headers = bearer(token)
    order_no = _order(client, headers)
    assert wxpay.orders[order_no]["notify_url"].endswith("/api/v1/pay/promoter-notify")
    assert wxpay.orders[order_no]["total_fee"] == "19900"
    assert _notify(client, wxpay.notify_xml(order_no, 19_900)) == "SUCCESS"
    assert _notify(client, wxpay.notify_xml(order_no, 19_900)) == "SUCCESS"  # a replay changes nothing
    card = client.get("/api/v1/me/promoter", headers=headers).get_json()["promoter"]
    assert card["source"] == "pack" and card["state"] == "active"
    assert client.get(f"/api/v1/me/promoter/pack-orders/{order_no}", headers=headers).get_json()["state"] == "paid"
    again = client.post("/api/v1/me/promoter/pack-orders", headers=headers)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_promoter"


def test_a_doubtful_notify_changes_nothing(client, dist, login, wxpay):
    program.update_settings({"pack_price": 19_900})
    token, _ = login("pip")
    order_no = _order(client, bearer(token))
    assert _notify(client, wxpay.notify_xml(order_no, 100)) == "FAIL"  # wrong amount
    assert _notify(client, wxpay.notify_xml(order_no, 19_900, key="not-the-key")) == "FAIL"  # bad signature
    assert _notify(client, wxpay.notify_xml("PRO-UNKNOWN", 19_900)) == "FAIL"
    assert _notify(client, wxpay.notify_xml(order_no, 19_900, mch_id="other")) == "FAIL"
    assert _notify(client, b"<xml>nonsense</xml>") == "FAIL"
    assert _notify(client, wxpay.notify_xml(order_no, 19_900, result_code="FAIL")) == "SUCCESS"  # nothing paid
    assert db.session.scalar(select(func.count()).select_from(Promoter)) == 0
    assert db.session.scalar(select(PackOrder.state)) == "created"


def test_concurrent_notifies_make_one_promoter(app, client, dist, login, wxpay):
    """Four deliveries of the same notify at once (WeChat retries): one promoter, every one acknowledged."""
    program.update_settings({"pack_price": 29_900})
    token, _ = login("pia")
    order_no = _order(client, bearer(token))
    xml = wxpay.notify_xml(order_no, 29_900)
    results: list[str] = []
    barrier = threading.Barrier(4, timeout=60)
    end_test_transaction()

    def post() -> None:
        with app.app_context():
            barrier.wait()
            response = app.test_client().post("/api/v1/pay/promoter-notify", data=xml,
                                              headers={"Content-Type": "text/xml"})
            results.append(xmltodict.parse(response.data)["xml"]["return_code"])

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == ["SUCCESS"] * 4
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Promoter)) == 1


def test_the_pack_is_not_on_sale_unless_priced(client, dist, login, wxpay):
    token, _ = login("pod")
    response = client.post("/api/v1/me/promoter/pack-orders", headers=bearer(token))
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "pack_not_on_sale"
