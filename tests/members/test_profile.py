from datetime import date

from members.models import Member
from tests.conftest import bearer


def test_me_shows_profile_tier_points_vip(client, login, tiers):
    token, member_id = login("alice")
    body = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert body["id"] == member_id
    assert body["tier"] == {"code": "normal", "name": "普通会员"}
    assert body["next_tier"] == {"code": "silver", "name": "高级会员", "growth_needed": 1000}
    assert body["points"]["balance"] == 0
    assert body["vip"] == {"active": False, "until": None}
    assert len(body["invite_code"]) == 8


def test_patch_profile_and_birthday_once(client, login, at):
    at("2026-05-01T12:00:00+08:00")
    token, member_id = login("alice")
    response = client.patch("/api/v1/me", headers=bearer(token),
                            json={"nickname": "小艾", "gender": 2, "birthday": "1995-02-28"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["birthday"] == "1995-02-28"
    same = client.patch("/api/v1/me", headers=bearer(token), json={"birthday": "1995-02-28"})
    assert same.status_code == 200
    second = client.patch("/api/v1/me", headers=bearer(token), json={"birthday": "1996-03-01"})
    assert second.status_code == 409
    assert second.get_json()["error"]["code"] == "birthday_locked"
    assert Member.query.get(member_id).birthday == date(1995, 2, 28)


def test_bad_profile_input_changes_nothing(client, login, at):
    at("2026-05-01T12:00:00+08:00")
    token, member_id = login("alice")
    cases = [
        ({"birthday": "2023-02-30"}, "birthday"),
        ({"birthday": "2026-05-01"}, "birthday"),  # today is not in the past
        ({"birthday": "2030-01-01"}, "birthday"),
        ({"nickname": "x" * 65}, "nickname"),
        ({"nickname": "bad\x00name"}, "nickname"),
        ({"nickname": "tab\u200ename"}, "nickname"),
        ({"nickname": ""}, "nickname"),
        ({"gender": 7}, "gender"),
        ({"gender": "female"}, "gender"),
        ({"avatar_url": "not a url"}, "avatar_url"),
        ({"points": 1000}, "points"),
    ]
    for body, field in cases:
        response = client.patch("/api/v1/me", headers=bearer(token), json=body)
        assert response.status_code == 422, body
        assert field in response.get_json()["error"]["fields"], (body, response.get_json())
    member = Member.query.get(member_id)
    assert member.birthday is None and member.nickname is None and member.gender == 0
    family = "小艾\U0001F468\u200d\U0001F469\u200d\U0001F467"  # an emoji family: joined by U+200D
    assert client.patch("/api/v1/me", headers=bearer(token), json={"nickname": family}).status_code == 200
    assert Member.query.get(member_id).nickname == family
    reversed_ = client.patch("/api/v1/me", headers=bearer(token), json={"nickname": "abc\u202edcba"})
    assert reversed_.status_code == 422  # a right-to-left override would show the clerk another name


def test_phone_binding_masked_unique(client, login, fake_wechat):
    fake_wechat.add_phone("p1", "13812345678")
    fake_wechat.add_phone("p2", "13812345678")
    token, member_id = login("alice")
    response = client.post("/api/v1/me/phone", headers=bearer(token), json={"code": "p1"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["phone"] == "138****5678"
    assert "13812345678" not in response.get_data(as_text=True)
    assert Member.query.get(member_id).phone == "13812345678"
    other_token, other_id = login("bob")
    taken = client.post("/api/v1/me/phone", headers=bearer(other_token), json={"code": "p2"})
    assert taken.status_code == 409
    assert taken.get_json()["error"]["code"] == "phone_taken"
    assert Member.query.get(other_id).phone is None


def test_rejected_phone_code(client, login):
    token, member_id = login("alice")
    response = client.post("/api/v1/me/phone", headers=bearer(token), json={"code": "unknown"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_phone_code"
    missing = client.post("/api/v1/me/phone", headers=bearer(token), json={})
    assert missing.status_code == 422
    assert Member.query.get(member_id).phone is None
