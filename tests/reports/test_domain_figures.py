"""Coupons, redemptions, check-ins and posts in the reports: counted from their own domains' tables, the same
live and rolled up, and the KOC list ranks members who post even before they invite anyone."""
from __future__ import annotations

from datetime import date

import pytest

from app.extensions import db
from coupons import checkout, issuing
from mall import service as mall
from marketing import segments
from reports import rollups
from tasks import checkin
from tasks import service as tasks
from tests.coupons.helpers import template
from tests.mall.helpers import add_item, give_points
from tests.tasks.helpers import define

D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)


@pytest.fixture
def activity(client, marketing, history, at):
    """1 March: A and B get a coupon ending 2 March and A a gift coupon; A checks in; C posts twice.
    2 March: A's gift coupon is verified at the till; A and B check in; B redeems twice, cancels one; A posts.
    Today is 3 March."""
    at("2026-03-01T09:00:00+08:00")
    define(client, marketing, code="checkin", kind="checkin", title="每日签到", reward={"points": 5})
    define(client, marketing, code="post", kind="post", title="晒单", reward={"points": 20},
           cap={"period": "day", "count": 5})
    item = add_item(client, marketing, points_price=10)
    ids = {name: history.member(name) for name in "ABC"}
    short = template(validity={"kind": "fixed", "start": "2026-03-01", "end": "2026-03-02"})
    gift = template(kind="gift", gift_sku="GIFT-TOTE", amount_off=None, threshold=0)
    for name in "AB":
        issuing.grant(ids[name], short.id, key="march", reason="test")
    gift_coupon = issuing.grant(ids["A"], gift.id, key="march", reason="test")
    db.session.commit()
    checkin.check_in(ids["A"])
    tasks.complete(ids["C"], "post", "photo-1")
    tasks.complete(ids["C"], "post", "photo-2")

    at("2026-03-02T20:00:00+08:00")
    checkout.verify(gift_coupon.code, history.store_id, None)
    checkin.check_in(ids["A"])
    checkin.check_in(ids["B"])
    give_points(ids["B"], 100)
    kept = mall.redeem(ids["B"], item["id"], 1, store_code="S1")
    undone = mall.redeem(ids["B"], item["id"], 2, store_code="S1")
    mall.cancel(undone.id, member_id=ids["B"])
    tasks.complete(ids["A"], "post", "photo-3")
    assert kept.state == "awaiting_pickup"

    at("2026-03-03T10:00:00+08:00")
    return ids


def _daily(client, marketing) -> dict[str, dict]:
    body = client.get("/api/v1/admin/reports/daily?from=2026-03-01&to=2026-03-02", headers=marketing).get_json()
    return {item["day"]: item for item in body["items"]}


def _figures(item: dict) -> tuple:
    return (item["coupons_issued"], item["coupons_used"], item["coupons_expired"], item["redemptions"],
            item["checkins"])


def test_domain_figures_live_and_rolled_up(client, marketing, activity):
    expected = {"2026-03-01": (3, 0, 0, 0, 1), "2026-03-02": (0, 1, 2, 2, 2)}
    live = _daily(client, marketing)
    assert {day: _figures(item) for day, item in live.items()} == expected

    rollups.rollup_range(D1, D2)
    rolled = _daily(client, marketing)
    assert {day: _figures(item) for day, item in rolled.items()} == expected
    summary = client.get("/api/v1/admin/reports/summary?from=2026-03-01&to=2026-03-02", headers=marketing).get_json()
    assert summary["live_days"] == []
    assert summary["coupons"] == {"issued": 3, "used": 1, "expired": 2, "use_rate": 0.3333}
    assert (summary["redemptions"], summary["checkins"]) == (2, 3)


def test_koc_counts_posts_and_lists_members_who_only_post(client, marketing, activity, history):
    invitee = history.member("a1", invited_by=activity["A"])
    history.purchase(invitee, 1000)
    segments.compute_koc(D3)
    items = client.get("/api/v1/admin/reports/koc", headers=marketing).get_json()["items"]
    ranked = [(i["member_id"], i["invites"], i["converted"], i["posts"]) for i in items]
    assert ranked == [(activity["A"], 1, 1, 1), (activity["C"], 0, 0, 2)]

    segments.compute_koc(D1)  # as of 1 March: A had not posted or invited yet
    items = client.get("/api/v1/admin/reports/koc", headers=marketing).get_json()["items"]
    assert [(i["member_id"], i["posts"]) for i in items] == [(activity["C"], 2)]
