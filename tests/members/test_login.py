from members.models import Member, MemberIdentity, MemberTag
from tests.conftest import bearer


def test_demo_code_logs_in_and_creates_one_member(client):
    first = client.post("/api/v1/auth/wechat-login", json={"code": "test-alice", "scene": "store-qr-S1"})
    assert first.status_code == 200
    body = first.get_json()
    assert body["is_new"] is True and body["token"]
    again = client.post("/api/v1/auth/wechat-login", json={"code": "test-alice"})
    assert again.get_json()["is_new"] is False
    assert again.get_json()["member"]["id"] == body["member"]["id"]
    member = Member.query.one()
    assert member.source_channel == "store-qr-S1"
    assert MemberTag.query.filter_by(member_id=member.id, tag="channel:store-qr-S1").one()


def test_wechat_code_goes_through_code2session(client, fake_wechat):
    fake_wechat.add_login("wx-code-1", openid="o-bob", unionid="u-bob")
    response = client.post("/api/v1/auth/wechat-login", json={"code": "wx-code-1"})
    assert response.status_code == 200, response.get_json()
    assert any(c["path"] == "/sns/jscode2session" and c["args"]["js_code"] == "wx-code-1" for c in fake_wechat.calls)
    assert "session_key" not in response.get_data(as_text=True)
    identities = {(i.kind, i.value) for i in MemberIdentity.query.all()}
    assert identities == {("openid", "o-bob"), ("unionid", "u-bob")}


def test_unionid_unifies_two_apps(client, app, fake_wechat):
    fake_wechat.add_login("c1", openid="o-app1", unionid="u-carol")
    first = client.post("/api/v1/auth/wechat-login", json={"code": "c1"}).get_json()
    app.config["WECHAT_APPID"] = "wx-other-app"
    try:
        fake_wechat.add_login("c2", openid="o-app2", unionid="u-carol")
        second = client.post("/api/v1/auth/wechat-login", json={"code": "c2"}).get_json()
    finally:
        app.config["WECHAT_APPID"] = "wx-test-appid"
    assert second["is_new"] is False
    assert second["member"]["id"] == first["member"]["id"]
    assert Member.query.count() == 1


def test_rejected_code_is_401_and_creates_nothing(client):
    response = client.post("/api/v1/auth/wechat-login", json={"code": "never-issued"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_wechat_code"
    assert Member.query.count() == 0


def test_wechat_unreachable_is_503_and_creates_nothing(client, app):
    app.config["WECHAT_API_BASE"], saved = "http://127.0.0.1:9", app.config["WECHAT_API_BASE"]
    try:
        response = client.post("/api/v1/auth/wechat-login", json={"code": "any"})
    finally:
        app.config["WECHAT_API_BASE"] = saved
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "wechat_unreachable"
    assert Member.query.count() == 0


def test_bad_login_bodies(client):
    cases = [
        ({}, 422, "code"),
        ({"code": ""}, 422, "code"),
        ({"code": 123}, 422, "code"),
        ({"code": "test-x", "extra": 1}, 422, "extra"),
    ]
    for body, status, field in cases:
        response = client.post("/api/v1/auth/wechat-login", json=body)
        assert response.status_code == status, body
        assert field in response.get_json()["error"]["fields"], body
    malformed = client.post("/api/v1/auth/wechat-login", data="{not json", content_type="application/json")
    assert malformed.status_code == 400
    assert malformed.get_json()["error"]["code"] == "malformed_json"


def test_inviter_code_is_recorded(client, login):
    token, inviter_id = login("inviter")
    code = client.get("/api/v1/me", headers=bearer(token)).get_json()["invite_code"]
    _, invitee_id = login("invitee", inviter_code=code)
    assert Member.query.get(invitee_id).invited_by_id == inviter_id
