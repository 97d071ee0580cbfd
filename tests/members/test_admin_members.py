"""The marketing console's member lookup: GET /api/v1/admin/members and /api/v1/admin/members/{id}."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.audit.models import AuditLog
from app.extensions import db
from coupons import checkout, issuing
from coupons.models import Coupon
from marketing import tags as tags_service
from members.models import Member, MemberTag
from points import ledger as ledger
from points.models import LedgerEntry
from tests.conftest import bearer
from tests.coupons.helpers import template
from tiers import growth
from tiers.models import TierChange

URL = "/api/v1/admin/members"


@pytest.fixture
def admin(operator_token):
    return bearer(operator_token("admin"))


@pytest.fixture
def search(client, marketing):
    """search("tier=gold") -> the member ids of the first page (asserting a 200)."""

    def do(query: str = "", headers: dict | None = None) -> list[int]:
        response = client.get(f"{URL}?{query}", headers=headers or marketing)
        assert response.status_code == 200, response.get_json()
        return [row["id"] for row in response.get_json()["items"]]

    return do


def give(member_id: int, amount: int, key: str) -> None:
    ledger.credit(member_id, amount, kind="grant", key=key, cause_type="grant")
    db.session.commit()


def bind_phone(client, fake_wechat, token: str, phone: str) -> None:
    fake_wechat.add_phone(f"phone-{phone}", phone)
    response = client.post("/api/v1/me/phone", headers=bearer(token), json={"code": f"phone-{phone}"})
    assert response.status_code == 200, response.get_json()


def audit_rows() -> list[AuditLog]:
    return list(db.session.scalars(select(AuditLog).where(AuditLog.action == "member.view").order_by(AuditLog.id)))


# --- search: filters -----------------------------------------------------------------------------------

@pytest.fixture
def people(client, login, tiers, fake_wechat):
    """alice (entry tier, phone, VIP), bob (gold, poster channel, manual tag), carol (invited by alice,
    unionid login). Returns {name: member id}."""
    alice_token, alice = login("alice")
    bind_phone(client, fake_wechat, alice_token, "13800138000")
    _, bob = login("bob", scene="poster")
    fake_wechat.add_login("wx-carol", openid="o-carol", unionid="u-carol")
    invite = db.session.get(Member, alice).invite_code
    response = client.post("/api/v1/auth/wechat-login", json={"code": "wx-carol", "inviter_code": invite})
    assert response.status_code == 200, response.get_json()
    carol = response.get_json()["member"]["id"]
    db.session.get(Member, alice).nickname = "Alice Wong"
    db.session.get(Member, alice).vip_until = clock.now() + timedelta(days=30)
    db.session.get(Member, bob).nickname = "Bobby"
    db.session.get(Member, bob).tier_id = tiers["gold"].id
    db.session.get(Member, carol).nickname = "Carol 100%_off"
    db.session.commit()
    tags_service.add_manual_tag(bob, "coffee-lover")
    tags_service.add_manual_tag(alice, "coffee-lover")
    tags_service.add_manual_tag(alice, "vip-event")
    give(bob, 70, "b1")
    return {"alice": alice, "bob": bob, "carol": carol}


def test_no_filter_lists_everyone_newest_first_with_the_row_fields(client, marketing, people):
    response = client.get(URL, headers=marketing)
    assert response.status_code == 200
    body = response.get_json()
    assert [r["id"] for r in body["items"]] == [people["carol"], people["bob"], people["alice"]]
    assert body["next_cursor"] is None
    rows = {r["id"]: r for r in body["items"]}
    alice, bob = rows[people["alice"]], rows[people["bob"]]
    assert alice["phone"] == "138****8000" and alice["nickname"] == "Alice Wong"
    assert alice["tier"] == {"code": "normal", "name": "普通会员"}
    assert alice["vip"]["active"] is True and alice["vip"]["until"] is not None
    assert bob["vip"] == {"active": False, "until": None}
    assert bob["tier"] == {"code": "gold", "name": "尊享会员"} and bob["points_balance"] == 70
    assert bob["source_channel"] == "poster" and alice["source_channel"] is None
    assert set(alice) == {"id", "nickname", "phone", "tier", "growth", "points_balance", "vip", "source_channel",
                          "created_at"}
    assert "13800138000" not in response.get_data(as_text=True)


def test_identity_filters(search, people):
    assert search("phone=13800138000") == [people["alice"]]
    assert search("phone=13800138001") == []
    assert search("openid=test-alice") == [people["alice"]]  # created through the login API
    assert search("openid=o-carol") == [people["carol"]]
    assert search("unionid=u-carol") == [people["carol"]]
    assert search("openid=u-carol") == []  # a unionid is not an openid
    assert search(f"member_id={people['bob']}") == [people["bob"]]
    assert search("member_id=999999") == []
    code = db.session.get(Member, people["bob"]).invite_code
    assert search(f"invite_code={code}") == [people["bob"]]
    assert search(f"invite_code={code.lower()}") == [people["bob"]]


def test_nickname_contains_case_insensitive_and_wildcards_are_literal(search, people):
    assert search("nickname=bob") == [people["bob"]]
    assert search("nickname=WONG") == [people["alice"]]
    assert search("nickname=o") == [people["carol"], people["bob"], people["alice"]]
    assert search("nickname=100%25_") == [people["carol"]]  # `%` and `_` match themselves, not anything
    assert search("nickname=%25") == [people["carol"]]


def test_tier_vip_and_tag_filters(search, people):
    assert search("tier=gold") == [people["bob"]]
    assert search("tier=normal") == [people["carol"], people["alice"]]
    assert search("tier=silver") == []
    assert search("vip=true") == [people["alice"]]
    assert search("vip=false") == [people["carol"], people["bob"]]
    assert search("tag=coffee-lover") == [people["bob"], people["alice"]]
    assert search("tag=coffee-lover&tag=vip-event") == [people["alice"]]  # all of them
    assert search("tag=channel:poster") == [people["bob"]]  # automatic tags too


def test_filters_combine_with_and(search, people):
    assert search("tag=coffee-lover&tier=gold") == [people["bob"]]
    assert search("tag=coffee-lover&vip=true&phone=13800138000") == [people["alice"]]
    assert search("tag=vip-event&tier=gold") == []
    assert search(f"member_id={people['alice']}&nickname=bob") == []


def test_vip_ends_when_the_clock_passes_it(search, people, at):
    db.session.get(Member, people["alice"]).vip_until = clock.now() + timedelta(minutes=5)
    db.session.commit()
    assert search("vip=true") == [people["alice"]]
    at(clock.now() + timedelta(minutes=10))  # no job ran: the filter reads vip_until against the clock
    assert search("vip=true") == []
    assert search("vip=false") == [people["carol"], people["bob"], people["alice"]]


def test_joined_dates_are_business_days_inclusive(search, login, at):
    at("2026-03-01T10:00:00+08:00")
    _, early = login("early")
    at("2026-03-05T23:30:00+08:00")  # 15:30 UTC: still the 5th in Shanghai
    _, late_evening = login("late")
    at("2026-03-06T00:30:00+08:00")  # 16:30 UTC on the 5th, but the 6th in Shanghai
    _, after_midnight = login("night")
    assert search("joined_from=2026-03-05&joined_to=2026-03-05") == [late_evening]
    assert search("joined_from=2026-03-06") == [after_midnight]
    assert search("joined_to=2026-03-04") == [early]
    assert search("joined_from=2026-03-01&joined_to=2026-03-06") == [after_midnight, late_evening, early]


@pytest.mark.parametrize("query, field, code", [
    ("tier=platinum", "tier", "unknown_tier"),
    ("tag=nobody-has-this", "tag", "unknown_tag"),
    ("tag=coffee-lover&tag=nobody-has-this", "tag", "unknown_tag"),
    ("joined_from=2026-03-06&joined_to=2026-03-05", "joined_from", "bad_range"),
    ("joined_from=2026-13-01", "joined_from", "validation_error"),
    ("joined_to=yesterday", "joined_to", "validation_error"),
    ("vip=maybe", "vip", "validation_error"),
    ("member_id=abc", "member_id", "validation_error"),
    ("member_id=0", "member_id", "validation_error"),
    ("member_id=99999999999999999999", "member_id", "validation_error"),
    ("phone=", "phone", "validation_error"),
    ("limit=0", "limit", "validation_error"),
    ("limit=101", "limit", "validation_error"),
    ("cursor=%21%21%21", "cursor", "bad_cursor"),
    ("tiers=gold", "tiers", "validation_error"),  # unknown parameter: a typo never widens the search
    ("open_id=test-alice", "open_id", "validation_error"),
])
def test_bad_input_is_a_422_in_the_envelope(client, marketing, people, query, field, code):
    before = db.session.scalar(select(func.count()).select_from(AuditLog))
    response = client.get(f"{URL}?{query}", headers=marketing)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code and field in error["fields"], error
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) == before


def test_pagination_walks_every_member_once(client, marketing, login, tiers):
    ids = [login(f"m{n}")[1] for n in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(f"{URL}?{query}", headers=marketing).get_json()
        pages += 1
        assert len(body["items"]) <= 2
        seen += [r["id"] for r in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == sorted(ids, reverse=True)


def test_pagination_keeps_the_filters(client, marketing, login, tiers):
    ids = [login(f"m{n}")[1] for n in range(5)]
    for member_id in ids[::2]:
        db.session.get(Member, member_id).tier_id = tiers["silver"].id
    db.session.commit()
    first = client.get(f"{URL}?tier=silver&limit=2", headers=marketing).get_json()
    second = client.get(f"{URL}?tier=silver&limit=2&cursor={first['next_cursor']}", headers=marketing).get_json()
    assert [r["id"] for r in first["items"]] == [ids[4], ids[2]]
    assert [r["id"] for r in second["items"]] == [ids[0]] and second["next_cursor"] is None


# --- roles ---------------------------------------------------------------------------------------------

def test_only_marketing_and_admin_may_look(client, marketing, admin, staff, operator_token, people):
    manager = bearer(operator_token("manager", "S1"))
    member_token = bearer(client.post("/api/v1/auth/wechat-login", json={"code": "test-alice"}).get_json()["token"])
    detail = f"{URL}/{people['alice']}"
    ledger_url = f"{URL}/{people['alice']}/points/ledger"
    for url in (URL, detail, ledger_url):
        for headers in (staff, manager, member_token):
            response = client.get(url, headers=headers)
            assert response.status_code == 403, (url, response.get_json())
            assert response.get_json()["error"]["code"] == "forbidden"
        response = client.get(url)
        assert response.status_code == 401 and response.get_json()["error"]["code"] == "missing_token"
        assert client.get(url, headers=marketing).status_code == 200
        assert client.get(url, headers=admin).status_code == 200
    assert len(audit_rows()) == 2  # one per allowed detail view; refused calls leave no trace of a view


# --- detail --------------------------------------------------------------------------------------------

@pytest.fixture
def rich(client, login, tiers, fake_wechat, at):
    """alice with a bit of everything, and bob with his own of each kind (never to appear in alice's detail)."""
    at("2026-03-01T10:00:00+08:00")
    alice_token, alice = login("alice", scene="store-qr")
    bind_phone(client, fake_wechat, alice_token, "13800138000")
    bob_token, bob = login("bob", scene="poster", inviter_code=db.session.get(Member, alice).invite_code)
    bind_phone(client, fake_wechat, bob_token, "13900139000")
    _, dan = login("dan", inviter_code=db.session.get(Member, alice).invite_code)
    db.session.get(Member, alice).nickname = "Alice"
    db.session.get(Member, bob).nickname = "Bob"
    db.session.commit()
    for member_id in (alice, bob):
        growth.add_growth(member_id, 1200, "test", f"g{member_id}")  # normal -> silver
    db.session.commit()
    for n in range(25):
        give(alice, 10, f"a{n}")
    give(bob, 999, "b0")
    tags_service.add_manual_tag(alice, "coffee-lover")
    tags_service.add_manual_tag(bob, "bob-only")
    coupon_template = template()
    coupons = {}
    for member_id in (alice, bob):
        coupons[member_id] = [issuing.grant(member_id, coupon_template.id, key=f"k{n}", reason="test").id
                              for n in range(4)]
    db.session.commit()
    used, revoked, stale, _available = coupons[alice]
    db.session.get(Coupon, used).state = "used"
    db.session.get(Coupon, used).used_at = clock.now()
    db.session.get(Coupon, stale).valid_until = clock.now() - timedelta(seconds=1)  # the job has not run yet
    db.session.commit()
    checkout.revoke(revoked, "mistake")
    return {"alice": alice, "bob": bob, "dan": dan, "coupons": coupons}


def test_detail_shows_the_whole_member(client, marketing, rich):
    alice = rich["alice"]
    response = client.get(f"{URL}/{alice}", headers=marketing)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["id"] == alice and body["nickname"] == "Alice" and body["phone"] == "138****8000"
    assert body["source_channel"] == "store-qr" and body["invited_by_id"] is None and body["referrals"] == 2
    assert body["tier"] == {"code": "silver", "name": "高级会员"} and body["growth"] == 1200
    assert body["next_tier"] == {"code": "gold", "name": "尊享会员", "growth_needed": 3800}
    assert body["points"]["balance"] == 250 and body["points"]["pending"] == 0 and body["points"]["debt"] == 0
    assert "expiring_soon" in body["points"]
    assert body["vip"] == {"active": False, "until": None}
    assert [(t["tag"], t["source"]) for t in body["tags"]] == [("channel:store-qr", "auto"),
                                                               ("coffee-lover", "manual")]
    assert len(body["ledger"]["items"]) == 20 and body["ledger"]["next_cursor"]
    assert all(e["delta"] == 10 for e in body["ledger"]["items"])
    assert body["coupons"]["counts"] == {"available": 1, "used": 1, "expired": 1, "revoked": 1}
    assert [c["id"] for c in body["coupons"]["available"]] == [rich["coupons"][alice][3]]
    assert [(c["from_tier"]["code"], c["to_tier"]["code"]) for c in body["tier_history"]] == [("normal", "silver")]
    assert "13800138000" not in response.get_data(as_text=True)


def test_detail_of_an_invited_member_names_the_inviter_by_id(client, marketing, rich):
    body = client.get(f"{URL}/{rich['bob']}", headers=marketing).get_json()
    assert body["invited_by_id"] == rich["alice"] and body["referrals"] == 0


def test_one_members_detail_holds_nothing_of_another(client, marketing, rich):
    alice, bob = rich["alice"], rich["bob"]
    response = client.get(f"{URL}/{alice}", headers=marketing)
    body = response.get_json()
    text = response.get_data(as_text=True)
    alice_entries = set(db.session.scalars(select(LedgerEntry.id).where(LedgerEntry.member_id == alice)))
    assert {e["id"] for e in body["ledger"]["items"]} <= alice_entries
    assert {c["id"] for c in body["coupons"]["available"]} <= set(rich["coupons"][alice])
    alice_changes = set(db.session.scalars(select(TierChange.id).where(TierChange.member_id == alice)))
    assert {c["id"] for c in body["tier_history"]} == alice_changes
    assert {t["tag"] for t in body["tags"]} == set(db.session.scalars(
        select(MemberTag.tag).where(MemberTag.member_id == alice)))
    bob_row = db.session.get(Member, bob)
    for secret in ("bob-only", "channel:poster", "13900139000", "139****9000", bob_row.invite_code, "Bob"):
        assert secret not in text, secret
    # Bob's 999 points as a JSON number (as a substring it also turns up inside random coupon codes)
    assert not re.search(r"[:\[,]999[,\]}]", text)


def test_detail_ledger_continues_on_the_admin_ledger_route(client, marketing, rich):
    alice = rich["alice"]
    detail = client.get(f"{URL}/{alice}", headers=marketing).get_json()
    rest = client.get(f"{URL}/{alice}/points/ledger?cursor={detail['ledger']['next_cursor']}", headers=marketing)
    assert rest.status_code == 200
    page = rest.get_json()
    ids = [e["id"] for e in detail["ledger"]["items"]] + [e["id"] for e in page["items"]]
    expected = list(db.session.scalars(select(LedgerEntry.id).where(LedgerEntry.member_id == alice)
                                       .order_by(LedgerEntry.id.desc())))
    assert ids == expected and len(ids) == 25 and page["next_cursor"] is None


def test_admin_ledger_route_refuses_unknown_members_and_params(client, marketing, rich):
    missing = client.get(f"{URL}/999999/points/ledger", headers=marketing)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "member_not_found"
    typo = client.get(f"{URL}/{rich['alice']}/points/ledger?limt=5", headers=marketing)
    assert typo.status_code == 422 and "limt" in typo.get_json()["error"]["fields"]


def test_unknown_member_is_404_and_audits_nothing(client, marketing):
    response = client.get(f"{URL}/999999", headers=marketing)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "member_not_found"
    assert audit_rows() == []


def test_viewing_a_detail_is_audited_and_committed(client, admin, rich):
    alice = rich["alice"]
    assert client.get(f"{URL}?tier=silver", headers=admin).status_code == 200
    assert audit_rows() == []  # a search shows masked rows only; opening a member is the PII access
    assert client.get(f"{URL}/{alice}", headers=admin).status_code == 200
    db.session.rollback()  # anything the request left uncommitted would vanish here
    rows = audit_rows()
    assert len(rows) == 1
    row = rows[0]
    assert (row.actor_kind, row.target_type, row.target_id) == ("operator", "member", str(alice))
    assert row.actor_id is not None and row.request_id
    client.get(f"{URL}/{alice}", headers=admin)
    assert len(audit_rows()) == 2  # every look counts


def test_the_openapi_document_lists_the_lookup(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert {"/api/v1/admin/members", "/api/v1/admin/members/{member_id}",
            "/api/v1/admin/members/{member_id}/points/ledger"} <= set(paths)
    params = {p["name"] for p in paths["/api/v1/admin/members"]["get"]["parameters"]}
    assert {"phone", "openid", "unionid", "member_id", "invite_code", "nickname", "tier", "tag", "vip",
            "joined_from", "joined_to", "limit", "cursor"} <= params
