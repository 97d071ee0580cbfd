"""Outbound webhooks: endpoints, the outbox written with the change, signed deliveries to a loopback
receiver that answers, fails, times out or answers slowly; retries, pausing, redelivery, two drains at once."""
from __future__ import annotations

import json
import threading
from datetime import timedelta

from sqlalchemy import func, select

from app import clock
from app.extensions import db
from demo.webhook_receiver import signature_ok
from tests.concurrency import end_test_transaction
from tests.sql_capture import statements
from webhooks import delivery, outbox
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

BASE = "/api/v1/admin/webhooks"


def _events(n: int, kind: str = "member.created") -> None:
    outbox.record(kind, [(i + 1, {"member_id": i + 1}) for i in range(n)])
    db.session.commit()


def _states() -> dict[str, int]:
    return dict(db.session.execute(select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)).all())


def test_register_shows_the_secret_once_and_refuses_bad_input(client, admin, endpoint, staff):
    made = endpoint()
    assert made["secret"].startswith("whsec_") and made["state"] == "active"
    assert "secret" not in client.get(f"{BASE}/{made['id']}", headers=admin).get_json()
    stored = db.session.get(WebhookEndpoint, made["id"])
    assert made["secret"] not in json.dumps([str(getattr(stored, c.key)) for c in WebhookEndpoint.__table__.c])
    for body in ({"url": "ftp://x.example/h", "events": ["member.created"]},
                 {"url": "http://x.example/h", "events": ["member.deleted"]},
                 {"url": "http://x.example/h", "events": []},
                 {"url": "http://user:pw@x.example/h", "events": ["member.created"]}):
        response = client.post(BASE, headers=admin, json=body)
        assert response.status_code == 422, body
    assert client.post(BASE, headers=staff, json={"url": "http://x/h", "events": ["member.created"]}).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 1


def test_without_an_endpoint_a_purchase_writes_and_reads_nothing_of_webhooks(client, buy, shopper):
    buy(shopper[1], [("LATTE", 1)], order_no="W0")  # the caches are warm from here on
    with statements() as seen:
        assert buy(shopper[1], [("LATTE", 1)], order_no="W1").status_code == 201
    assert not [sql for sql in seen if "webhook" in sql]
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


def test_a_purchase_is_in_the_outbox_with_its_transaction_and_delivered_signed(client, buy, shopper, endpoint,
                                                                             receiver):
    made = endpoint()
    _, member_id = shopper
    refused = buy(member_id, [("LATTE", 1)], order_no="W2", paid=1)  # the wrong amount: 409/422, rolled back
    assert refused.status_code >= 400
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 0
    assert buy(member_id, [("LATTE", 1)], order_no="W3").status_code == 201
    kinds = sorted(db.session.scalars(select(WebhookEvent.type)))
    assert kinds == ["points.credited", "purchase.recorded"]

    counts = delivery.drain()
    assert counts["changed"] == 2 and _states() == {"delivered": 2}
    got = {item.type: item for item in receiver.received}
    purchase = got["purchase.recorded"]
    assert purchase.signed and purchase.body["data"]["order_no"] == "W3"
    assert purchase.body["id"] == purchase.event_id and purchase.body["time"]
    assert purchase.body["data"]["member_id"] == member_id and purchase.body["data"]["paid"] > 0
    assert not signature_ok(purchase.signature, json.dumps(purchase.body).encode() + b" ", made["secret"])


def test_a_failing_receiver_is_retried_with_backoff_then_failed_and_the_endpoint_paused(client, admin, at, endpoint,
                                                                                       receiver):
    at("2026-03-05T10:00:00+08:00")
    made = endpoint(["member.created"])
    receiver.behave = lambda event_id: (500, 0.0)
    _events(1)
    delivery.drain()
    row = db.session.scalar(select(WebhookDelivery))
    assert (row.state, row.attempts, row.last_status, row.last_error) == ("pending", 1, 500, "HTTP 500")
    assert clock.as_utc(row.next_attempt_at) == clock.now() + delivery.RETRY_SCHEDULE[0]
    delivery.drain()  # not due yet: nothing is sent
    assert receiver.count == 1
    waited = timedelta(0)
    for wait in delivery.RETRY_SCHEDULE:
        waited += wait
        at(clock.now() + wait)
        delivery.drain()
        db.session.expire_all()
        if db.session.get(WebhookEndpoint, made["id"]).state == "paused":
            break
    assert waited >= timedelta(hours=24)
    endpoint_row = db.session.get(WebhookEndpoint, made["id"])
    assert endpoint_row.state == "paused" and endpoint_row.pause_reason
    shown = client.get(BASE, headers=admin).get_json()["items"][0]
    assert shown["state"] == "paused" and shown["paused_at"]
    sent = receiver.count
    _events(1)  # recorded while paused, not sent
    at(clock.now() + timedelta(days=1))
    delivery.drain()
    assert receiver.count == sent and _states() == {"failed": 1, "pending": 1}  # the first ran its schedule out

    receiver.behave = lambda event_id: (200, 0.0)
    resumed = client.patch(f"{BASE}/{made['id']}", headers=admin, json={"active": True})
    assert resumed.get_json()["state"] == "active"
    delivery.drain()
    assert _states() == {"failed": 1, "delivered": 1}


def test_a_delivery_fails_for_good_after_the_whole_schedule(at, endpoint, receiver, app):
    at("2026-03-05T10:00:00+08:00")
    endpoint(["member.created"])
    app.config["WEBHOOK_PAUSE_AFTER"] = 30 * 24 * 3600
    try:
        receiver.behave = lambda event_id: (503, 0.0)
        _events(1)
        for _ in range(delivery.MAX_ATTEMPTS):
            delivery.drain()
            at(clock.now() + timedelta(hours=7))
        row = db.session.scalar(select(WebhookDelivery))
        assert (row.state, row.attempts) == ("failed", delivery.MAX_ATTEMPTS)
    finally:
        app.config["WEBHOOK_PAUSE_AFTER"] = 24 * 3600


def test_a_receiver_that_times_out_is_retried_and_a_slow_one_is_fine(app, endpoint, receiver):
    endpoint(["member.created"])
    app.config["WEBHOOK_TIMEOUT"] = 0.5
    try:
        receiver.behave = lambda event_id: (200, 1.5)
        _events(1)
        delivery.drain()
        row = db.session.scalar(select(WebhookDelivery))
        assert (row.state, row.last_error) == ("pending", "no answer within 0.5 s")
        receiver.behave = lambda event_id: (200, 0.3)
        _events(2, "member.created")
        delivery.drain()
        assert _states() == {"pending": 1, "delivered": 2}
    finally:
        app.config["WEBHOOK_TIMEOUT"] = 10.0


def test_an_unreachable_receiver_is_retried(client, admin, at, endpoint, receiver):
    endpoint(["member.created"], url="http://127.0.0.1:9/nothing")
    _events(1)
    delivery.drain()
    row = db.session.scalar(select(WebhookDelivery))
    assert row.state == "pending" and row.last_error.startswith("unreachable")


def test_redeliver_sends_the_same_event_again(client, admin, endpoint, receiver):
    made = endpoint(["member.created"])
    _events(1)
    delivery.drain()
    items = client.get(f"{BASE}/{made['id']}/deliveries", headers=admin).get_json()["items"]
    assert [item["state"] for item in items] == ["delivered"]
    again = client.post(f"{BASE}/{made['id']}/deliveries/{items[0]['id']}/redeliver", headers=admin)
    assert again.status_code == 200 and again.get_json()["state"] == "pending"
    delivery.drain()
    ids = receiver.event_ids()
    assert len(ids) == 2 and ids[0] == ids[1]  # the same id: the receiver de-duplicates by it
    other = client.post(f"{BASE}/{made['id'] + 1}/deliveries/{items[0]['id']}/redeliver", headers=admin)
    assert other.status_code == 404


def test_a_rotated_secret_signs_with_both_during_its_grace(client, admin, at, endpoint, receiver):
    at("2026-03-05T10:00:00+08:00")
    made = endpoint(["member.created"])
    rotated = client.post(f"{BASE}/{made['id']}/rotate-secret", headers=admin, json={"grace_hours": 1}).get_json()
    _events(1)
    delivery.drain()
    first = receiver.received[-1]
    for secret in (made["secret"], rotated["secret"]):
        assert signature_ok(first.signature, json.dumps(first.body, ensure_ascii=False, separators=(",", ":")).encode(),
                            secret)
    at(clock.now() + timedelta(hours=2))
    _events(1)
    delivery.drain()
    last = receiver.received[-1]
    body = json.dumps(last.body, ensure_ascii=False, separators=(",", ":")).encode()
    assert signature_ok(last.signature, body, rotated["secret"]) and not signature_ok(last.signature, body,
                                                                                     made["secret"])


def test_a_disabled_endpoint_gets_no_new_events(client, admin, endpoint):
    made = endpoint(["member.created"])
    client.patch(f"{BASE}/{made['id']}", headers=admin, json={"active": False})
    _events(3)
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


def test_two_drains_at_once_send_each_delivery_once(app, endpoint, receiver):
    endpoint(["member.created"])
    receiver.behave = lambda event_id: (200, 0.01)
    _events(300)
    end_test_transaction()
    barrier = threading.Barrier(2)

    def run() -> None:
        with app.app_context():
            barrier.wait()
            delivery.drain(batch_size=50)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    ids = receiver.event_ids()
    assert len(ids) == 300 and len(set(ids)) == 300
    assert _states() == {"delivered": 300}


def test_the_demo_seeds_a_pos_key_and_an_endpoint_once(stores, monkeypatch):
    from app.api_keys.models import ApiKey
    from demo import integrations

    monkeypatch.setenv("DEMO_WEBHOOK_URL", "http://127.0.0.1:8123/hooks")
    first = integrations.seed()
    assert integrations.seed() == first  # idempotent, and the secrets are the same (derived, not stored)
    assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 1
    endpoint_row = db.session.scalar(select(WebhookEndpoint))
    assert endpoint_row.url == "http://127.0.0.1:8123/hooks" and set(endpoint_row.events) == set(outbox.EVENT_TYPES)
    assert integrations.webhook_secret() in first[1]
