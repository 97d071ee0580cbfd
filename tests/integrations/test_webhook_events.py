"""Every event type of the issue reaches the outbox from the change that makes it, with its data."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app import clock, events
from app.extensions import db
from coupons import expiry as coupon_expiry
from coupons import issuing
from mall import service as mall
from points import expiry as points_expiry
from tasks import checkin
from tests.conftest import bearer
from tests.coupons.helpers import template
from tests.mall.helpers import add_item
from tests.tasks.helpers import CHECKIN, define
from webhooks.models import WebhookEvent
from webhooks.outbox import EVENT_TYPES


def _data(kind: str) -> list[dict]:
    return [row.data for row in db.session.scalars(select(WebhookEvent).where(WebhookEvent.type == kind)
                                                   .order_by(WebhookEvent.id))]


def test_each_event_type_is_written_by_its_change(client, endpoint, login, catalogue, give, buy, staff, marketing,
                                                  fake_wechat, at):
    at("2026-03-05T10:00:00+08:00")
    endpoint(EVENT_TYPES)
    token, member_id = login("eve")
    assert _data("member.created") == [{"member_id": member_id}]

    fake_wechat.add_phone("ph", "13900001111")
    assert client.post("/api/v1/me/phone", headers=bearer(token), json={"code": "ph"}).status_code == 200
    assert {"member_id": member_id, "change": "phone", "fields": ["phone"]} in _data("member.updated")

    give(member_id, 500, expires_at=clock.now() + timedelta(days=2))
    assert _data("points.credited")[-1]["amount"] == 500

    bought = buy(member_id, [("LATTE", 1)], order_no="E1", points_to_use=100)
    assert bought.status_code == 201, bought.get_json()
    assert _data("purchase.recorded")[-1]["order_no"] == "E1"
    assert _data("points.debited")[-1]["amount"] == 100
    refunded = client.post("/api/v1/pos/purchases/E1/refunds", headers=staff,
                           json={"refund_no": "ER1", "full": True})
    assert refunded.status_code == 201, refunded.get_json()
    assert _data("purchase.refunded")[-1]["order_no"] == "E1" and _data("purchase.refunded")[-1]["full"] is True

    coupon_template = template(validity={"kind": "relative", "days": 1})
    coupon = issuing.grant(member_id, coupon_template.id, key="e:1", reason="test")
    db.session.commit()
    assert _data("coupon.issued")[-1]["template_id"] == coupon_template.id
    used = buy(member_id, [("MUG", 1)], order_no="E2", coupon_ids=[coupon.id])
    assert used.status_code == 201, used.get_json()
    assert _data("coupon.used")[-1]["coupon_id"] == coupon.id
    later = issuing.grant(member_id, coupon_template.id, key="e:2", reason="test")
    db.session.commit()
    at(clock.now() + timedelta(days=3))
    coupon_expiry.expire_coupons()
    assert [d["coupon_id"] for d in _data("coupon.expired")] == [later.id]
    points_expiry.expire_points_lots()
    assert _data("points.expired") and _data("points.expired")[0]["member_id"] == member_id

    give(member_id, 1000)
    item = add_item(client, marketing)
    redemption = mall.redeem(member_id, item["id"], 1, store_code="S1")
    assert _data("redemption.created")[-1]["redemption_id"] == redemption.id
    mall.fulfil(redemption.id, redemption.pickup_store_id, None)
    assert _data("redemption.fulfilled")[-1]["redemption_id"] == redemption.id

    define(client, marketing, **CHECKIN)
    checkin.check_in(member_id)
    assert _data("task.completed")[-1]["member_id"] == member_id

    # VIP and tier changes come from the pay notify, growth and the tier review (their own suites): the receivers here
    events.vip_activated.send(None, member_id=member_id, order_id=7, vip_until=clock.now() + timedelta(days=365))
    events.tier_changed.send(None, member_id=member_id, from_tier="silver", to_tier="gold", reason="growth")
    db.session.commit()
    assert _data("vip.activated")[-1]["order_id"] == 7
    assert _data("member.updated")[-1] == {"member_id": member_id, "change": "tier", "from_tier": "silver",
                                           "to_tier": "gold", "reason": "growth"}

    events.tiers_changed.send(None, changes=[
        {"member_id": member_id, "from_tier": "gold", "to_tier": "silver", "reason": "review"}])
    db.session.commit()
    assert _data("member.updated")[-1] == {"member_id": member_id, "change": "tier", "from_tier": "gold",
                                           "to_tier": "silver", "reason": "review"}

    assert set(db.session.scalars(select(WebhookEvent.type))) == set(EVENT_TYPES)

