"""Routes to promoter (grant, check-ins, spend, VIP), levels reviewed by the job with history, marketing's
views (list, CSV, report), the verify command."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.extensions import db
from distribution import accounts, commission, levels, program
from distribution.models import LevelChange, Promoter
from members.models import Member
from tests.conftest import bearer
from tests.tasks.helpers import CHECKIN, define


def test_marketing_grants_and_a_member_sees_the_card(client, promoter, marketing, login):
    card = client.get("/api/v1/me/promoter", headers=promoter[0]).get_json()
    assert card["promoter"]["level"]["code"] == "L1" and card["promoter"]["source"] == "granted"
    assert [rate["rate_bp"] for rate in card["promoter"]["rates"]] == [1000]
    again = client.post("/api/v1/admin/promoters", headers=marketing, json={"member_id": promoter[1]})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_promoter"
    missing = client.post("/api/v1/admin/promoters", headers=marketing, json={"member_id": 2**31 - 1})
    assert missing.status_code == 404
    huge = client.post("/api/v1/admin/promoters", headers=marketing, json={"member_id": 2**31})
    assert huge.status_code == 422
    assert client.post("/api/v1/admin/promoters", headers=promoter[0],
                       json={"member_id": promoter[1]}).status_code == 403


def test_apply_on_the_spend_route(client, buy, dist, login):
    token, member_id = login("sam")
    headers = bearer(token)
    refused = client.post("/api/v1/me/promoter/apply", headers=headers)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "not_eligible"
    program.update_settings({"spend": 20_000})
    buy(member_id, [("MUG", 1)])
    routes = client.get("/api/v1/me/promoter", headers=headers).get_json()["routes"]
    assert routes == [{"route": "spend", "required": 20_000, "progress": 10_000, "met": False}]
    assert client.post("/api/v1/me/promoter/apply", headers=headers).status_code == 403
    buy(member_id, [("MUG", 1)])
    applied = client.post("/api/v1/me/promoter/apply", headers=headers)
    assert applied.status_code == 201 and applied.get_json()["promoter"]["source"] == "spend"


def test_apply_on_the_checkin_and_vip_routes(client, dist, login, marketing):
    define(client, marketing, **CHECKIN)
    program.update_settings({"checkin_days": 1, "vip_route": True})
    token, member_id = login("cici")
    assert client.post("/api/v1/tasks/checkin", headers=bearer(token)).status_code == 200
    applied = client.post("/api/v1/me/promoter/apply", headers=bearer(token))
    assert applied.status_code == 201 and applied.get_json()["promoter"]["source"] == "checkins"
    program.update_settings({"checkin_days": None})
    token, member_id = login("vivi")
    member = db.session.get(Member, member_id)
    member.vip_until = clock.now() + timedelta(days=30)
    db.session.commit()
    applied = client.post("/api/v1/me/promoter/apply", headers=bearer(token))
    assert applied.status_code == 201 and applied.get_json()["promoter"]["source"] == "vip"


def test_a_revoked_promoter_cannot_apply_back(client, promoter, marketing):
    program.update_settings({"vip_route": True})
    member = db.session.get(Member, promoter[1])
    member.vip_until = clock.now() + timedelta(days=30)
    db.session.commit()
    client.post(f"/api/v1/admin/promoters/{promoter[2].id}/revoke", headers=marketing,
                json={"reason": "x"})
    refused = client.post("/api/v1/me/promoter/apply", headers=promoter[0])
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "promoter_revoked"
    back = client.post("/api/v1/admin/promoters", headers=marketing, json={"member_id": promoter[1]})
    assert back.status_code == 201 and back.get_json()["state"] == "active"


def test_the_level_review_lifts_by_fans_and_keeps_history(client, buy, promoter, fan, login, dist, marketing):
    buy(fan[1], [("LATTE", 1)])
    assert levels.review()["changed"] == 0  # one fan: still L1
    token, second = login("sid")
    client.post("/api/v1/me/binding", headers=bearer(token), json={"promoter_code": promoter[2].code})
    buy(second, [("LATTE", 1)])
    buy(second, [("LATTE", 1)])  # a fan who buys twice counts once
    db.session.expire_all()
    assert db.session.get(Promoter, promoter[2].id).fans == 2
    assert levels.review()["changed"] == 1
    assert levels.review()["changed"] == 0
    change = db.session.scalar(select(LevelChange))
    assert (change.from_level_id, change.to_level_id, change.fans) == (dist["L1"].id, dist["L2"].id, 2)
    detail = client.get(f"/api/v1/admin/promoters/{promoter[2].id}", headers=marketing).get_json()
    assert detail["level_id"] == dist["L2"].id and len(detail["level_history"]) == 1
    # at level 2 a coffee sale pays the level's 20%
    assert buy(fan[1], [("LATTE", 1)]).get_json()["promoter"]["commission"] == 600


def test_a_level_by_gmv_alone(buy, promoter, fan, dist):
    buy(fan[1], [("MUG", 10)])  # 1,000 yuan
    assert levels.review()["changed"] == 1


def test_marketing_list_csv_and_report(client, buy, promoter, fan, marketing):
    buy(fan[1], [("MUG", 1)])
    listed = client.get("/api/v1/admin/promoters?state=active&q=" + promoter[2].code,
                        headers=marketing).get_json()
    assert [row["id"] for row in listed["items"]] == [promoter[2].id]
    csv = client.get("/api/v1/admin/promoters.csv", headers=marketing)
    assert csv.status_code == 200 and csv.mimetype == "text/csv" and promoter[2].code in csv.get_data(as_text=True)
    report = client.get("/api/v1/admin/distribution/report", headers=marketing).get_json()
    assert report["top_promoters"][0]["gmv"] == 10_000 and report["top_promoters"][0]["commission"] == 1000
    assert report["liability"]["pending"] == 1000
    assert report["conversion"] == {"bindings": 1, "buyers": 1, "rate_bp": 10_000}
    bad = client.get("/api/v1/admin/promoters?level_id=99999999999", headers=marketing)
    assert bad.status_code == 422


def test_settings_and_rules_are_checked(client, marketing, dist):
    for body in ({"touch": "middle"}, {"return_days": -1}, {"second_level_bp": 9000}, {"withdraw_min": "100"},
                 {"binding_days": 10**9}):
        assert client.patch("/api/v1/admin/distribution/settings", headers=marketing, json=body).status_code == 422
    both = client.post("/api/v1/admin/commission-rules", headers=marketing,
                       json={"name": "x", "sku": "LATTE", "category": "coffee", "rate_bp": 100})
    assert both.status_code == 422
    nolevel = client.post("/api/v1/admin/commission-rules", headers=marketing,
                          json={"name": "x", "level_id": 2**31 - 1, "rate_bp": 100})
    assert nolevel.status_code == 422 and nolevel.get_json()["error"]["code"] == "level_not_found"
    lowest = client.post("/api/v1/admin/promoter-levels", headers=marketing,
                         json={"code": "L0", "name": "x", "rank": -1})
    assert lowest.status_code == 422
    taken = client.post("/api/v1/admin/promoter-levels", headers=marketing,
                        json={"code": "L1", "name": "x", "rank": 5, "min_fans": 9})
    assert taken.status_code == 409


def test_verify_command_finds_drift(app, buy, promoter, fan):
    buy(fan[1], [("LATTE", 1)])
    commission.settle_due(clock.now() + timedelta(days=8))
    result = app.test_cli_runner().invoke(args=["distribution", "verify"])
    assert result.exit_code == 0 and "no drift" in result.output
    held = db.session.get(Promoter, promoter[2].id)
    held.balance += 1
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["distribution", "verify"])
    assert result.exit_code == 1 and "ledger sums" in result.output
    held.balance -= 1
    db.session.commit()
    assert accounts.verify() == []


def test_levels_only_rise(client, buy, promoter, fan, dist, staff):
    buy(fan[1], [("MUG", 10)], order_no="BIG1")  # 1,000 yuan: level 2 by GMV
    assert levels.review()["changed"] == 1
    client.post("/api/v1/pos/purchases/BIG1/refunds", headers=staff, json={"refund_no": "BIGR1", "full": True})
    db.session.expire_all()
    assert db.session.get(Promoter, promoter[2].id).gmv == 0
    assert levels.review()["changed"] == 0
    assert db.session.get(Promoter, promoter[2].id).level_id == dist["L2"].id
