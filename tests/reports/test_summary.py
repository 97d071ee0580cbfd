"""A known four-day history; every number of the summary and the daily report is checked against it."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from points import ledger as points
from points.models import LedgerEntry
from reports import rollups
from reports.models import ReportBuyers, ReportDaily

D1, D2, D3, D4 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)


@pytest.fixture
def known(history, at):
    """Members A (normal), B (gold, invited by A), C (normal), D (invited by A, day 2); purchases, a refund,
    spends, an expiry, adjustments and a restore over 1-3 March, and one purchase today (4 March)."""
    policy = points.get_policy()
    policy.points_per_yuan_value = 70  # 180 points -> 18000/70 = 257.14 fen -> 257
    db.session.commit()
    ids = {}
    at("2026-03-01T10:00:00+08:00")
    ids["A"] = history.member("A", tier="normal")
    ids["B"] = history.member("B", tier="gold", invited_by=ids["A"])
    ids["C"] = history.member("C", tier="normal")
    at("2026-03-01T11:00:00+08:00")
    p1 = history.purchase(ids["A"], 10000, earn=100)
    history.purchase(ids["B"], 5000, earn=50)
    history.purchase(ids["A"], 2000, earn=20)
    history.grant(ids["C"], 30, expires_at=clock.end_of_business_day(D2))
    history.grant(ids["C"], 10)
    at("2026-03-02T09:00:00+08:00")
    spend = history.debit(ids["A"], 50)
    history.refund(p1, 4000, points_back=40)
    ids["D"] = history.member("D", tier="normal", invited_by=ids["A"])
    history.grant(ids["B"], 15, kind="adjust")
    history.debit(ids["B"], 5, kind="adjust")
    at("2026-03-03T23:30:00+08:00")  # late evening: still 3 March in Shanghai, already 15:30 UTC
    history.debit(ids["C"], 5)  # the 30 granted points expired at the end of 2 March: expire row first
    history.restore(spend, 20)
    history.purchase(ids["B"], 3000, earn=30)
    history.purchase(ids["D"], 2500, earn=25)
    at("2026-03-04T00:30:00+08:00")  # just after midnight in Shanghai: 3 March 16:30 UTC, a new business day
    history.purchase(ids["A"], 1000, earn=10)
    at("2026-03-04T15:00:00+08:00")
    return ids


EXPECTED_SUMMARY = {
    "from": "2026-03-01", "to": "2026-03-04",
    "members": {"total": 4, "new": 4},
    "active_members": 3,  # A, B, D
    "purchases": {"count": 6, "gmv": 23500, "refunds": {"count": 1, "amount": 4000}, "net_gmv": 19500,
                  "by_tier": [{"tier": "gold", "count": 2, "gmv": 8000}, {"tier": "normal", "count": 4, "gmv": 15500}]},
    "repurchase_rate": 0.6667,  # A (3) and B (2) of A, B, D
    "repeat_purchasers": 2,
    "points": {"issued": 290, "returned": 20, "spent": 55, "expired": 30, "reversed": 40, "adjusted_out": 5,
               "outstanding": 180, "liability": 257},
    "coupons": {"issued": 0, "used": 0, "expired": 0, "use_rate": 0.0},
    "redemptions": 0, "checkins": 0,
    "invites": {"count": 2, "converted": 2},
}


def _summary(client, marketing, query: str) -> dict:
    response = client.get(f"/api/v1/admin/reports/summary?{query}", headers=marketing)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_summary_live_and_rolled_up_agree_with_the_history(client, marketing, known):
    live = _summary(client, marketing, "from=2026-03-01&to=2026-03-04")
    assert live.pop("live_days") == ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
    assert live == EXPECTED_SUMMARY

    rollups.rollup_range(D1, D3)
    rolled = _summary(client, marketing, "from=2026-03-01&to=2026-03-04")
    assert rolled.pop("live_days") == ["2026-03-04"]
    assert rolled == EXPECTED_SUMMARY
    # the outstanding figure is the ledger's own sum: the rollup never drifts from the truth
    assert rolled["points"]["outstanding"] == db.session.scalar(select(func.sum(LedgerEntry.delta)))


def test_summary_of_a_middle_range(client, marketing, known):
    rollups.rollup_range(D1, D3)
    body = _summary(client, marketing, "from=2026-03-02&to=2026-03-03")
    assert body["members"] == {"total": 4, "new": 1}
    assert body["active_members"] == 2 and body["repurchase_rate"] == 0.0  # B and D, once each
    assert body["purchases"]["count"] == 2 and body["purchases"]["gmv"] == 5500
    assert body["purchases"]["refunds"] == {"count": 1, "amount": 4000}
    assert body["points"] == {"issued": 15 + 55, "returned": 20, "spent": 55, "expired": 30, "reversed": 40,
                              "adjusted_out": 5, "outstanding": 170, "liability": 243}  # 17000/70 = 242.86
    assert body["invites"] == {"count": 1, "converted": 1}  # D invited on 2 March, first purchase 3 March
    assert body["live_days"] == []


def test_daily_report_every_day(client, marketing, known):
    rollups.rollup_range(D1, D2)  # 3 and 4 March live, chained from 2 March's row
    response = client.get("/api/v1/admin/reports/daily?from=2026-03-01&to=2026-03-04", headers=marketing)
    assert response.status_code == 200
    items = {item["day"]: item for item in response.get_json()["items"]}
    assert response.get_json()["live_days"] == ["2026-03-03", "2026-03-04"]
    zero = {"coupons_issued": 0, "coupons_used": 0, "coupons_expired": 0, "redemptions": 0, "checkins": 0,
            "coupon_use_rate": 0.0}
    tiers = {day: items[day].pop("by_tier") for day in items}
    assert tiers["2026-03-01"] == [{"tier": "gold", "count": 1, "gmv": 5000}, {"tier": "normal", "count": 2,
                                                                               "gmv": 12000}]
    assert tiers["2026-03-02"] == [] and tiers["2026-03-04"] == [{"tier": "normal", "count": 1, "gmv": 1000}]
    assert items["2026-03-01"] == {
        "day": "2026-03-01", "members_total": 3, "members_new": 3, "active_members": 2, "purchases_count": 3,
        "gmv": 17000, "refunds_count": 0, "refunds_amount": 0, "repurchase_rate": 0.5, "points_issued": 210,
        "points_returned": 0, "points_spent": 0, "points_expired": 0, "points_reversed": 0,
        "points_adjusted_out": 0, "points_outstanding": 210, "liability": 300, "invites_count": 1,
        "invites_converted": 1, **zero}
    assert items["2026-03-02"] == {
        "day": "2026-03-02", "members_total": 4, "members_new": 1, "active_members": 0, "purchases_count": 0,
        "gmv": 0, "refunds_count": 1, "refunds_amount": 4000, "repurchase_rate": 0.0, "points_issued": 15,
        "points_returned": 0, "points_spent": 50, "points_expired": 0, "points_reversed": 40,
        "points_adjusted_out": 5, "points_outstanding": 130, "liability": 186, "invites_count": 1,
        "invites_converted": 0, **zero}
    assert items["2026-03-03"] == {
        "day": "2026-03-03", "members_total": 4, "members_new": 0, "active_members": 2, "purchases_count": 2,
        "gmv": 5500, "refunds_count": 0, "refunds_amount": 0, "repurchase_rate": 0.0, "points_issued": 55,
        "points_returned": 20, "points_spent": 5, "points_expired": 30, "points_reversed": 0,
        "points_adjusted_out": 0, "points_outstanding": 170, "liability": 243, "invites_count": 0,
        "invites_converted": 1, **zero}
    assert items["2026-03-04"] == {
        "day": "2026-03-04", "members_total": 4, "members_new": 0, "active_members": 1, "purchases_count": 1,
        "gmv": 1000, "refunds_count": 0, "refunds_amount": 0, "repurchase_rate": 0.0, "points_issued": 10,
        "points_returned": 0, "points_spent": 0, "points_expired": 0, "points_reversed": 0,
        "points_adjusted_out": 0, "points_outstanding": 180, "liability": 257, "invites_count": 0,
        "invites_converted": 0, **zero}

    csv_response = client.get("/api/v1/admin/reports/daily?from=2026-03-01&to=2026-03-04&format=csv",
                              headers=marketing)
    assert csv_response.status_code == 200 and csv_response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(csv_response.get_data().decode("utf-8-sig"))))
    assert [r["day"] for r in rows] == ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
    assert rows[2]["points_expired"] == "30" and rows[3]["points_outstanding"] == "180"
    assert (rows[0]["gmv.gold"], rows[0]["count.normal"], rows[1]["gmv.gold"]) == ("5000", "2", "0")


def test_summary_csv(client, marketing, known):
    response = client.get("/api/v1/admin/reports/summary?from=2026-03-01&to=2026-03-04&format=csv",
                          headers=marketing)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    metrics = dict(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert metrics["points.liability"] == "257"
    assert metrics["purchases.by_tier.gold.gmv"] == "8000"
    assert metrics["invites.converted"] == "2"


def test_rollup_is_idempotent_and_refuses_open_days(known):
    rollups.rollup_daily(D1)
    first = rollups._row_dict(db.session.get(ReportDaily, D1))
    rollups.rollup_daily(D1)
    db.session.expire_all()
    again = rollups._row_dict(db.session.get(ReportDaily, D1))
    first.pop("computed_at"), again.pop("computed_at")
    assert first == again
    buyers = db.session.get(ReportBuyers, D1)
    assert rollups.unpack(buyers.buyers).bit_count() == 2 and rollups.unpack(buyers.repeat).bit_count() == 1
    with pytest.raises(ValueError):
        rollups.rollup_daily(D4)  # today is still open


def test_rollup_job_defaults_to_yesterday(known):
    from reports import jobs

    assert jobs.rollup_daily()["day"] == "2026-03-03"
    assert db.session.get(ReportDaily, D3).points_outstanding == 170


@pytest.mark.parametrize("query, code", [
    ("from=2026-03-04&to=2026-03-01", "bad_range"),
    ("from=2025-01-01&to=2026-03-01", "range_too_long"),
    ("from=2026-03-01&to=2026-03-05", "bad_range"),  # tomorrow
    ("from=2026-13-01&to=2026-03-01", "validation_error"),
    ("format=xml", "validation_error"),
    ("bogus=1", "validation_error"),
])
def test_bad_ranges(client, marketing, at, query, code):
    at("2026-03-04T12:00:00+08:00")
    for path in ("summary", "daily"):
        response = client.get(f"/api/v1/admin/reports/{path}?{query}", headers=marketing)
        assert response.status_code == 422, (path, query)
        assert response.get_json()["error"]["code"] == code


def test_366_days_is_the_longest_range(client, marketing, at):
    at("2026-03-04T12:00:00+08:00")
    ok = client.get("/api/v1/admin/reports/summary?from=2025-03-04&to=2026-03-04", headers=marketing)
    assert ok.status_code == 200 and ok.get_json()["members"]["total"] == 0
    too_long = client.get("/api/v1/admin/reports/summary?from=2025-03-03&to=2026-03-04", headers=marketing)
    assert too_long.status_code == 422


def test_reports_need_a_marketing_token(client, staff, login):
    token, _ = login("shopper")
    assert client.get("/api/v1/admin/reports/summary").status_code == 401
    assert client.get("/api/v1/admin/reports/summary", headers=staff).status_code == 403
    assert client.get("/api/v1/admin/reports/daily", headers={"Authorization": f"Bearer {token}"}).status_code == 403


def test_active_and_repeat_members_across_range_edges(client, marketing, history, at):
    """Distinct members are counted from the rows' earlier-purchase times: check the edges of a range."""
    at("2026-03-01T10:00:00+08:00")
    steady, twice_at_once = history.member("steady"), history.member("twice")
    for day in ("01", "02", "03"):
        at(f"2026-03-{day}T10:00:00+08:00")
        history.purchase(steady, 100)
    at("2026-03-01T10:00:00+08:00")
    history.purchase(twice_at_once, 100)
    history.purchase(twice_at_once, 100)  # same instant as the one before
    at("2026-03-03T12:00:00+08:00")
    history.purchase(twice_at_once, 100)
    at("2026-03-04T12:00:00+08:00")
    rollups.rollup_range(D1, D2)  # 3 March stays live
    expected = {
        "from=2026-03-01&to=2026-03-03": (2, 2), "from=2026-03-02&to=2026-03-03": (2, 1),
        "from=2026-03-03&to=2026-03-03": (2, 0), "from=2026-03-01&to=2026-03-01": (2, 1),
        "from=2026-03-02&to=2026-03-02": (1, 0),
    }
    for query, (active, repeat) in expected.items():
        body = _summary(client, marketing, query)
        assert (body["active_members"], body["repeat_purchasers"]) == (active, repeat), query


def test_whole_months_use_month_bitmaps_and_agree_with_days(client, marketing, history, at):
    from reports.models import ReportBuyersMonth

    at("2026-01-15T10:00:00+08:00")
    x, y, z = history.member("x"), history.member("y"), history.member("z")
    for moment, member_id in [("2026-02-10", x), ("2026-03-05", x), ("2026-02-03", y), ("2026-02-20", y),
                              ("2026-03-31", z), ("2026-01-31", z)]:
        at(f"{moment}T12:00:00+08:00")
        history.purchase(member_id, 100)
    at("2026-04-02T12:00:00+08:00")
    rollups.rollup_range(date(2026, 1, 25), date(2026, 4, 1))
    february = db.session.get(ReportBuyersMonth, date(2026, 2, 1))
    assert february.days == 28 and rollups.unpack(february.repeat).bit_count() == 1  # y, twice in February
    expected = {"from=2026-02-01&to=2026-03-31": (3, 2), "from=2026-01-20&to=2026-03-10": (3, 2),
                "from=2026-03-01&to=2026-04-02": (2, 0), "from=2026-01-31&to=2026-03-31": (3, 3)}
    answers = {q: _summary(client, marketing, q) for q in expected}
    for query, (active, repeat) in expected.items():
        assert (answers[query]["active_members"], answers[query]["repeat_purchasers"]) == (active, repeat), query
    db.session.execute(ReportBuyersMonth.__table__.delete())  # days only: the same answers
    db.session.commit()
    for query, (active, repeat) in expected.items():
        body = _summary(client, marketing, query)
        assert (body["active_members"], body["repeat_purchasers"]) == (active, repeat), query
