import hashlib
import hmac
from datetime import timedelta

import pytest

from app import clock
from app.errors import Conflict, NotFound
from members import member_code
from tests.conftest import bearer


def test_code_is_18_digits_rotates_and_hides_the_member_id(client, login, at):
    at("2026-06-01T10:00:00+00:00")
    token, member_id = login("alice")
    first = client.get("/api/v1/me/code", headers=bearer(token)).get_json()
    assert len(first["code"]) == 18 and first["code"].isdigit()
    at("2026-06-01T10:00:31+00:00")
    second = client.get("/api/v1/me/code", headers=bearer(token)).get_json()
    assert second["code"] != first["code"]
    assert first["expires_at"] == "2026-06-01T10:01:00+00:00"


def test_codes_of_neighbouring_members_share_nothing_visible(app, login, at):
    at("2026-06-01T10:00:00+00:00")
    ids = [login(f"m{i}")[1] for i in range(5)]
    codes = [member_code.issue(member_id).code for member_id in ids]
    assert len(set(codes)) == 5
    assert len({c[:6] for c in codes}) == 5  # consecutive ids do not give similar codes


def test_current_and_previous_step_accepted_older_refused(login, at):
    at("2026-06-01T10:00:05+00:00")
    _, member_id = login("alice")
    code = member_code.issue(member_id).code
    assert member_code.resolve(code).id == member_id
    clock.set_now(clock.now() + timedelta(seconds=30))
    assert member_code.resolve(code).id == member_id  # previous step still fine
    clock.set_now(clock.now() + timedelta(seconds=30))
    with pytest.raises(NotFound) as expired:
        member_code.resolve(code)
    assert expired.value.code == "member_code_invalid"


@pytest.mark.parametrize("bad", ["", "123", "12345678901234567x", "1" * 19, "000000000000000000", "999999999999999999"])
def test_forged_codes_are_refused(login, bad):
    login("alice")
    with pytest.raises(NotFound):
        member_code.resolve(bad)


def test_a_changed_digit_is_refused(login, at):
    at("2026-06-01T10:00:05+00:00")
    _, member_id = login("alice")
    code = member_code.issue(member_id).code
    for position in range(18):
        digit = str((int(code[position]) + 1) % 10)
        with pytest.raises(NotFound):
            member_code.resolve(code[:position] + digit + code[position + 1:])


def test_consume_burns_the_code_once(login, at):
    at("2026-06-01T10:00:05+00:00")
    _, member_id = login("alice")
    code = member_code.issue(member_id).code
    assert member_code.consume(code, "purchase:1:A1").id == member_id
    from app.extensions import db

    db.session.commit()
    with pytest.raises(Conflict) as replay:
        member_code.consume(code, "purchase:1:A2")
    assert replay.value.code == "member_code_used"
    with pytest.raises(Conflict):
        member_code.resolve(code)


def test_staff_scan_resolves_masked_summary(client, login, staff, fake_wechat, at):
    at("2026-06-01T10:00:05+00:00")
    fake_wechat.add_phone("p", "13900001111")
    token, member_id = login("alice")
    client.post("/api/v1/me/phone", headers=bearer(token), json={"code": "p"})
    code = client.get("/api/v1/me/code", headers=bearer(token)).get_json()["code"]
    response = client.post("/api/v1/pos/scan", headers=staff, json={"member_code": code})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["id"] == member_id and body["phone"] == "139****1111"
    assert body["points"]["balance"] == 0 and body["usable_coupons"] == []
    forged = client.post("/api/v1/pos/scan", headers=staff, json={"member_code": "123456789012345678"})
    assert forged.status_code == 404
    assert forged.get_json()["error"]["code"] == "member_code_invalid"


def test_scan_is_for_store_staff_only(client, login, marketing):
    token, _ = login("alice")
    as_member = client.post("/api/v1/pos/scan", headers=bearer(token), json={"member_code": "1" * 18})
    assert as_member.status_code == 403
    as_marketing = client.post("/api/v1/pos/scan", headers=marketing, json={"member_code": "1" * 18})
    assert as_marketing.status_code == 403
    anonymous = client.post("/api/v1/pos/scan", json={"member_code": "1" * 18})
    assert anonymous.status_code == 401


def _code_for(member_id: int, tag: int) -> str:
    """A code for any (member id, tag), made with the server secret as `issue` makes one."""
    key = member_code._key("permutation")
    value = member_code._permute(key, (member_id << member_code.TAG_BITS) | tag)
    while value >= member_code.DOMAIN:
        value = member_code._permute(key, value)
    return f"{value:018d}"


def test_a_code_naming_an_id_beyond_the_members_column_is_invalid(login):
    """A made-up code decodes to a member id up to 2**32: the look-up must not reach PostgreSQL's integer."""
    login("alice")
    for member_id in (2**31, 2**31 + 5, (member_code.DOMAIN >> member_code.TAG_BITS) - 1):
        with pytest.raises(NotFound) as refused:
            member_code.resolve(_code_for(member_id, 12345))
        assert refused.value.code == "member_code_invalid"


def test_the_code_before_the_nonce_existed_is_still_accepted(login, at):
    """Nonce 0 signs what codes signed before migration 0013: codes on screens survive the deploy."""
    at("2026-06-01T10:00:05+00:00")
    _, member_id = login("alice")
    step = member_code._current_step()
    digest = hmac.new(member_code._key("tag"), f"{member_id}:{step}".encode(), hashlib.sha256).digest()
    legacy = _code_for(member_id, int.from_bytes(digest[:4], "big") & member_code.TAG_MASK)
    assert legacy == member_code.issue(member_id).code and member_code.resolve(legacy).id == member_id


def test_codes_used_more_than_a_day_ago_are_forgotten_and_stay_refused(login, at):
    from app.extensions import db
    from members import jobs
    from members.models import ConsumedMemberCode

    at("2026-06-01T10:00:00+00:00")
    _, member_id = login("alice")
    old = member_code.issue(member_id).code
    member_code.consume(old, "purchase:S1:A1")
    db.session.commit()
    at("2026-06-02T09:00:00+00:00")
    recent = member_code.issue(member_id).code
    member_code.consume(recent, "purchase:S1:A2")
    db.session.commit()
    at("2026-06-02T10:00:01+00:00")  # the first is a day and a second old, the second an hour
    counts = jobs.purge_consumed_member_codes()
    assert (counts["scanned"], counts["changed"]) == (1, 1)
    assert [row.code for row in db.session.query(ConsumedMemberCode)] == [recent]
    with pytest.raises(NotFound):  # forgotten, yet no replay: its minute is long gone
        member_code.resolve(old)
    assert jobs.purge_consumed_member_codes()["changed"] == 0
