"""First purchase, profile completion and invites: rewards caused by other domains' events."""
from app import events
from app.errors import ApiError
from app.extensions import db
from coupons.models import Coupon
from members.models import Member
from points.ledger import summary
from points.models import LedgerEntry
from tasks import service as tasks_service
from tasks.models import ReferralReward, TaskCompletion
from tests.conftest import bearer
from tests.coupons.helpers import template
from tests.tasks.helpers import define

INVITE = {"code": "invite", "kind": "invite", "title": "邀请好友", "reward": {"points": 100},
          "cap": {"period": "month", "count": 2}, "invitee_reward": {"points": 30}}
FIRST = {"code": "first", "kind": "first_purchase", "title": "首单有礼", "reward": {"points": 50}}


def _purchase(member_id: int, purchase_id: int, first: bool = True) -> None:
    """What the purchase service does: send the event inside its transaction, then commit it."""
    events.purchase_recorded.send(None, member_id=member_id, purchase_id=purchase_id, order_no=f"T{purchase_id}",
                                  points_earned=0, earn_entry_id=None, first=first)
    db.session.commit()


def _invite_code(client, token) -> str:
    return client.get("/api/v1/me", headers=bearer(token)).get_json()["invite_code"]


def test_first_purchase_rewards_once(client, login, marketing):
    define(client, marketing, **FIRST)
    _, member_id = login()
    _purchase(member_id, 1)
    _purchase(member_id, 1)
    _purchase(member_id, 2, first=True)  # a confused sender cannot pay it twice
    _purchase(member_id, 3, first=False)
    assert summary(member_id)["balance"] == 50
    assert TaskCompletion.query.count() == 1


def test_receiver_does_not_commit(client, login, marketing):
    define(client, marketing, **FIRST)
    _, member_id = login()
    # as the purchase service does: its own writes first, then the event, inside one transaction
    db.session.get(Member, member_id).nickname = "buyer"
    db.session.flush()
    events.purchase_recorded.send(None, member_id=member_id, purchase_id=1, order_no="T1", points_earned=0,
                                  earn_entry_id=None, first=True)
    db.session.rollback()  # the purchase failed after the event: the reward goes with it
    assert TaskCompletion.query.count() == 0 and LedgerEntry.query.count() == 0
    assert db.session.get(Member, member_id).nickname is None


def test_reward_failure_does_not_break_the_purchase(client, login, marketing, caplog, monkeypatch):
    monkeypatch.setattr(tasks_service.log, "disabled", False)  # alembic's logging config (migration test) disables it
    t = template(claimable=False, active=False)  # stopped: every grant of it is refused
    define(client, marketing, **{**FIRST, "reward": {"points": 50, "coupon_template_id": t.id}})
    _, member_id = login()
    member = db.session.get(Member, member_id)
    member.nickname = "kept"  # stands in for the purchase's own writes
    _purchase(member_id, 1)
    refusals = [arg.code for record in caplog.records for arg in record.args or ()
                if isinstance(arg, ApiError)]
    assert refusals == ["coupon_template_stopped"]
    db.session.expire_all()
    assert db.session.get(Member, member_id).nickname == "kept"
    assert TaskCompletion.query.count() == 0 and summary(member_id)["balance"] == 0
    assert Coupon.query.count() == 0


def test_profile_completion_rewards_once(client, login, marketing, fake_wechat):
    define(client, marketing, code="profile", kind="profile", title="完善资料", reward={"points": 20})
    token, member_id = login()
    client.patch("/api/v1/me", json={"nickname": "Alice"}, headers=bearer(token))
    client.patch("/api/v1/me", json={"birthday": "1990-05-01"}, headers=bearer(token))
    assert summary(member_id)["balance"] == 0  # no phone yet
    fake_wechat.add_phone("ph-1", "13800138000")
    assert client.post("/api/v1/me/phone", json={"code": "ph-1"}, headers=bearer(token)).status_code == 200
    assert summary(member_id)["balance"] == 20
    client.patch("/api/v1/me", json={"nickname": "Alice 2"}, headers=bearer(token))
    assert summary(member_id)["balance"] == 20 and TaskCompletion.query.count() == 1


def test_invite_rewards_inviter_on_first_purchase(client, login, marketing):
    define(client, marketing, **INVITE)
    inviter_token, inviter_id = login("inviter")
    code = _invite_code(client, inviter_token)
    _, friend_id = login("friend", inviter_code=code)
    _, stranger_id = login("stranger")
    _purchase(stranger_id, 1)
    assert summary(inviter_id)["balance"] == 0
    page = client.get("/api/v1/me/referrals", headers=bearer(inviter_token)).get_json()
    assert [(i["member_id"], i["state"]) for i in page["items"]] == [(friend_id, "joined")]
    _purchase(friend_id, 2)
    _purchase(friend_id, 3)
    assert summary(inviter_id)["balance"] == 100 and summary(friend_id)["balance"] == 30
    assert ReferralReward.query.count() == 1
    item = client.get("/api/v1/me/referrals", headers=bearer(inviter_token)).get_json()["items"][0]
    assert item["state"] == "rewarded" and item["points"] == 100 and item["converted_at"]


def test_monthly_cap_per_inviter(client, login, marketing, at):
    define(client, marketing, **INVITE)
    at("2026-03-10T10:00:00+08:00")
    inviter_token, inviter_id = login("inviter")
    code = _invite_code(client, inviter_token)
    friends = [login(f"f{n}", inviter_code=code)[1] for n in range(4)]
    for n, friend in enumerate(friends[:3]):
        _purchase(friend, n + 1)
    assert summary(inviter_id)["balance"] == 200
    states = {i["member_id"]: i["state"] for i in
              client.get("/api/v1/me/referrals", headers=bearer(inviter_token)).get_json()["items"]}
    assert sorted(states.values()) == ["capped", "joined", "rewarded", "rewarded"]
    at("2026-04-01T10:00:00+08:00")
    _purchase(friends[3], 9)
    assert summary(inviter_id)["balance"] == 300


def test_nobody_invites_themselves_or_is_invited_twice(client, login, marketing):
    define(client, marketing, **INVITE)
    first_token, first_id = login("first")
    second_token, second_id = login("second")
    _, again_id = login("first", inviter_code=_invite_code(client, second_token))  # existing member: ignored
    assert again_id == first_id and db.session.get(Member, first_id).invited_by_id is None
    member = db.session.get(Member, first_id)
    member.invited_by_id = first_id  # even a corrupt row cannot pay itself
    db.session.commit()
    _purchase(first_id, 1)
    assert summary(first_id)["balance"] == 0 and ReferralReward.query.count() == 0


def test_no_invite_task_records_the_outcome(client, login):
    inviter_token, inviter_id = login("inviter")
    _, friend_id = login("friend", inviter_code=_invite_code(client, inviter_token))
    _purchase(friend_id, 1)
    assert ReferralReward.query.one().state == "no_task" and summary(inviter_id)["balance"] == 0
    assert client.get("/api/v1/me/referrals?limit=0", headers=bearer(inviter_token)).status_code == 422


def test_inviter_tier_not_allowed_still_rewards_the_friend(client, login, marketing, tiers):
    define(client, marketing, **{**INVITE, "tiers": ["gold"]})
    inviter_token, inviter_id = login("inviter")
    _, friend_id = login("friend", inviter_code=_invite_code(client, inviter_token))
    _purchase(friend_id, 1)
    assert ReferralReward.query.one().state == "not_eligible"
    assert summary(inviter_id)["balance"] == 0 and summary(friend_id)["balance"] == 30
