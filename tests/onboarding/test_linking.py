"""An imported customer who never used the mini-program becomes the shopper at their first WeChat login (by
unionid) or when they bind the same phone, keeping points, tier and history."""
from __future__ import annotations

from sqlalchemy import select

from app.audit.models import AuditLog
from app.extensions import db
from members.models import MemberIdentity
from tests.concurrency import fire
from tests.conftest import bearer
from tests.onboarding.helpers import member, run_cli, write_csv


def _import(app, tmp_path, *rows: dict) -> None:
    result = run_cli(app, write_csv(tmp_path / "old.csv", list(rows)))
    assert result.exit_code == 0 and "refused 0 rows" in result.output, result.output


def test_the_first_login_with_an_imported_unionid_is_that_member(app, client, tiers, at, tmp_path, fake_wechat):
    at("2026-03-05T10:00:00+08:00")
    _import(app, tmp_path, {"external_id": "L1", "unionid": "u-li", "tier": "gold", "points": "300:2027-01-31"})
    fake_wechat.add_login("code-li", openid="o-li", unionid="u-li")
    body = client.post("/api/v1/auth/wechat-login", json={"code": "code-li"}).get_json()
    imported = member("L1")
    assert body["member"]["id"] == imported.id and body["is_new"] is False
    me = client.get("/api/v1/me", headers=bearer(body["token"])).get_json()
    assert me["points"]["balance"] == 300 and me["tier"]["code"] == "gold"
    history = client.get("/api/v1/me/points/ledger", headers=bearer(body["token"])).get_json()["items"]
    assert [(e["kind"], e["delta"], e["note"], e["ref"]) for e in history] == [
        ("opening", 300, "opening balance", "import_batch:1")]


def test_binding_the_imported_phone_links_the_shopper_and_hands_out_a_new_token(app, client, tiers, at, tmp_path,
                                                                                 login, fake_wechat):
    at("2026-03-05T10:00:00+08:00")
    _import(app, tmp_path, {"external_id": "M1", "phone": "13800000002", "tier": "silver", "growth": "1500",
                            "points": "500"})
    old_token, shopper_id = login("mei")
    fake_wechat.add_phone("phone-mei", "13800000002")
    answer = client.post("/api/v1/me/phone", json={"code": "phone-mei"}, headers=bearer(old_token))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    imported = member("M1")
    assert body["id"] == imported.id != shopper_id and body["points"]["balance"] == 500
    assert (body["tier"]["code"], body["growth"], body["phone"]) == ("silver", 1500, "138****0002")
    assert client.get("/api/v1/me", headers=bearer(old_token)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(body["token"])).get_json()["id"] == imported.id
    again = client.post("/api/v1/auth/wechat-login", json={"code": "test-mei"}).get_json()
    assert again["member"]["id"] == imported.id and again["is_new"] is False
    assert db.session.scalars(select(MemberIdentity).where(MemberIdentity.member_id == shopper_id)).all() == []
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "member.link_imported"))
    assert (audit.target_id, audit.before, audit.after["external_id"]) == (str(imported.id), {"member_id": shopper_id},
                                                                          "M1")


def test_a_phone_of_an_imported_member_who_already_logged_in_stays_taken(app, client, tiers, at, tmp_path, login,
                                                                         fake_wechat):
    at("2026-03-05T10:00:00+08:00")
    _import(app, tmp_path, {"external_id": "N1", "phone": "13800000003", "unionid": "u-nan"})
    fake_wechat.add_login("code-nan", openid="o-nan", unionid="u-nan")
    assert client.post("/api/v1/auth/wechat-login", json={"code": "code-nan"}).status_code == 200
    token, _ = login("other")
    fake_wechat.add_phone("phone-x", "13800000003")
    refused = client.post("/api/v1/me/phone", json={"code": "phone-x"}, headers=bearer(token))
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "phone_taken"


def test_a_shopper_who_already_has_a_phone_cannot_claim_an_imported_one(app, client, tiers, at, tmp_path, login,
                                                                        fake_wechat):
    at("2026-03-05T10:00:00+08:00")
    _import(app, tmp_path, {"external_id": "P1", "phone": "13800000004", "points": "10"})
    token, shopper_id = login("pat")
    fake_wechat.add_phone("own", "13900000009")
    fake_wechat.add_phone("imported", "13800000004")
    assert client.post("/api/v1/me/phone", json={"code": "own"}, headers=bearer(token)).status_code == 200
    refused = client.post("/api/v1/me/phone", json={"code": "imported"}, headers=bearer(token))
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "phone_taken"
    assert member("P1").last_login_at is None


def test_two_shoppers_binding_one_imported_phone_at_once_link_one_of_them(app, tiers, at, tmp_path, login,
                                                                          fake_wechat):
    at("2026-03-05T10:00:00+08:00")
    _import(app, tmp_path, {"external_id": "R1", "phone": "13800000005", "points": "700"})
    tokens = [login(f"racer{n}")[0] for n in range(4)]
    for n in range(4):
        fake_wechat.add_phone(f"race-{n}", "13800000005")
    results = fire(app, [("POST", "/api/v1/me/phone", bearer(token), {"code": f"race-{n}"})
                         for n, token in enumerate(tokens)])
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409, 409, 409], results
    imported = member("R1")
    openids = db.session.scalars(select(MemberIdentity.value).where(MemberIdentity.member_id == imported.id,
                                                                    MemberIdentity.kind == "openid")).all()
    assert len(openids) == 1


def test_a_shopper_who_already_bought_here_cannot_claim_an_imported_phone(app, client, tiers, at, tmp_path, login,
                                                                          fake_wechat):
    from members.models import Member

    at("2026-03-05T10:00:00+08:00")
    _import(app, tmp_path, {"external_id": "Q1", "phone": "13800000006", "points": "10"})
    token, shopper_id = login("quinn")
    db.session.get(Member, shopper_id).purchase_count = 1  # their own history here would be left behind
    db.session.commit()
    fake_wechat.add_phone("imported", "13800000006")
    refused = client.post("/api/v1/me/phone", json={"code": "imported"}, headers=bearer(token))
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "phone_taken"
