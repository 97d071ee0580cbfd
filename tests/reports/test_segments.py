"""Lifecycle thresholds with the clock moved, RFM quintiles and segments, super users, KOC."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app import clock
from app.extensions import db
from marketing import segments
from marketing.models import MemberLifecycle, MemberRfm
from members.models import Member, MemberTag


def _stages() -> dict[int, str]:
    return dict(db.session.execute(select(MemberLifecycle.member_id, MemberLifecycle.stage)).all())


def _tags(member_id: int) -> set[str]:
    return set(db.session.scalars(select(MemberTag.tag).where(MemberTag.member_id == member_id)))


def _at_day(at, day: date, hour: int = 12) -> None:
    at(f"{day.isoformat()}T{hour:02d}:00:00+08:00")


def test_lifecycle_thresholds_with_the_clock_moved(history, at):
    today = date(2026, 6, 30)
    _at_day(at, date(2026, 1, 1))
    buyers = {}
    for days_ago in (89, 90, 179, 180):
        buyers[days_ago] = history.member(f"b{days_ago}")
    refunded_only = history.member("refunded")
    for days_ago, member_id in buyers.items():
        _at_day(at, today - timedelta(days=days_ago), hour=23)  # late evening still counts as that business day
        history.purchase(member_id, 1000)
    _at_day(at, today - timedelta(days=10))
    history.refund(history.purchase(refunded_only, 1000), 1000)  # refunded in full: not a purchase
    _at_day(at, today - timedelta(days=29), hour=1)
    joined_29 = history.member("new29")
    _at_day(at, today - timedelta(days=30), hour=23)
    joined_30 = history.member("new30")

    _at_day(at, today, hour=8)
    counts = segments.recompute_lifecycle()
    assert counts["scanned"] == 7 and counts["failed"] == 0
    stages = _stages()
    assert stages[buyers[89]] == "active"
    assert stages[buyers[90]] == "at_risk"
    assert stages[buyers[179]] == "at_risk"
    assert stages[buyers[180]] == "lapsed"
    assert stages[joined_29] == "new"
    assert stages[joined_30] == "dormant"
    assert stages[refunded_only] == "dormant"
    assert "lifecycle:active" in _tags(buyers[89])
    assert _tags(buyers[90]) == {"lifecycle:at_risk"}

    _at_day(at, today + timedelta(days=1))  # one day on: every boundary moves by one
    segments.recompute_lifecycle()
    stages = _stages()
    assert stages[buyers[89]] == "at_risk"
    assert stages[buyers[179]] == "lapsed"
    assert stages[joined_29] == "dormant"
    assert "lifecycle:active" not in _tags(buyers[89]) and "lifecycle:at_risk" in _tags(buyers[89])
    assert [t for t in _tags(joined_29) if t.startswith("lifecycle:")] == ["lifecycle:dormant"]


def test_lifecycle_thresholds_are_configurable_and_audited(client, marketing, history, at):
    _at_day(at, date(2026, 1, 1))
    member = history.member("m")
    history.purchase(member, 1000)
    _at_day(at, date(2026, 3, 1))  # 59 days later
    segments.recompute_lifecycle()
    assert _stages()[member] == "active"

    bad = client.put("/api/v1/admin/reports/lifecycle-settings", json={"active_days": 200}, headers=marketing)
    assert bad.status_code == 422  # active must stay below lapsed (180)
    assert client.put("/api/v1/admin/reports/lifecycle-settings", json={"active_days": 0},
                      headers=marketing).status_code == 422
    ok = client.put("/api/v1/admin/reports/lifecycle-settings", json={"active_days": 30, "lapsed_days": 59},
                    headers=marketing)
    assert ok.status_code == 200 and ok.get_json() == {"new_days": 30, "active_days": 30, "lapsed_days": 59}
    segments.recompute_lifecycle()
    assert _stages()[member] == "lapsed"
    log = client.get("/api/v1/admin/audit-log?action=lifecycle_settings.update", headers=marketing).get_json()
    assert log["items"][0]["after"]["lapsed_days"] == 59
    counts = client.get("/api/v1/admin/reports/lifecycle", headers=marketing).get_json()
    assert counts["stages"]["lapsed"] == 1 and counts["settings"]["active_days"] == 30


def test_automatic_tags_follow_the_facts(history, at):
    from members.models import Member, Tier

    _at_day(at, date(2026, 3, 1))
    member_id = history.member("t", tier="normal", birthday=date(1990, 7, 15), source_channel="store_qr",
                               vip_until=clock.now() + timedelta(days=30))
    db.session.add(MemberTag(member_id=member_id, tag="tier:gold", source="auto"))  # stale
    db.session.add(MemberTag(member_id=member_id, tag="likes_tea", source="manual"))
    db.session.commit()
    segments.recompute_lifecycle()
    assert _tags(member_id) == {"tier:normal", "birthday_month:7", "channel:store_qr", "vip", "lifecycle:new",
                                "likes_tea"}
    member = db.session.get(Member, member_id)
    member.tier_id = db.session.scalar(select(Tier.id).where(Tier.code == "gold"))
    member.vip_until = clock.now() - timedelta(days=1)
    db.session.commit()
    counts = segments.recompute_lifecycle()
    assert counts["changed"] == 3  # tier:normal out, tier:gold in, vip out
    assert _tags(member_id) == {"tier:gold", "birthday_month:7", "channel:store_qr", "lifecycle:new", "likes_tea"}
    assert segments.recompute_lifecycle()["changed"] == 0  # re-running changes nothing


def test_rfm_quintiles_segments_and_super_users(client, marketing, history, at):
    members = {}
    _at_day(at, date(2026, 1, 1))
    for i in range(1, 11):
        members[i] = history.member(f"r{i}")
    for i in range(1, 11):  # member i: i purchases of i yuan, the last on 1 Feb + i days
        for n in range(i):
            _at_day(at, date(2026, 2, 1) + timedelta(days=i), hour=9 + n)
            history.purchase(members[i], 100 * i)
    _at_day(at, date(2026, 3, 1))
    result = segments.compute_rfm()
    assert result["scanned"] == 10 and result["super_users"] == 2
    rows = {r.member_id: r for r in db.session.scalars(select(MemberRfm))}
    expected = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [rows[members[i]].r_score for i in range(1, 11)] == expected
    assert [rows[members[i]].f_score for i in range(1, 11)] == expected
    assert [rows[members[i]].m_score for i in range(1, 11)] == expected
    assert rows[members[10]].segment == "champions"
    assert rows[members[7]].segment == "loyal"
    assert rows[members[5]].segment == "need_attention"
    assert rows[members[1]].segment == "hibernating"
    assert rows[members[10]].monetary == 10 * 1000 and rows[members[10]].spend_12m == 10000
    assert {m for m, r in rows.items() if r.super_user} == {members[9], members[10]}
    assert "super_user" in _tags(members[10]) and "super_user" not in _tags(members[8])

    body = client.get("/api/v1/admin/reports/super-users", headers=marketing).get_json()
    assert body["spenders_12m"] == 10 and body["super_users"] == 2
    assert body["revenue_12m"] == 38500 and body["super_revenue_12m"] == 18100  # 100 * (1 + 4 + ... + 100)
    assert body["revenue_share"] == 0.4701 and body["threshold"] == 8100
    assert [m["member_id"] for m in body["top"]] == [members[10], members[9]]

    rfm = client.get("/api/v1/admin/reports/rfm?segment=champions", headers=marketing)
    assert rfm.status_code == 200
    cells = {c["segment"]: c for c in rfm.get_json()["segments"]}
    assert cells["champions"]["members"] == 2 and cells["hibernating"]["members"] == 4  # members 1-4: R and F 1-2
    assert sum(c["members"] for c in cells.values()) == 10
    assert [m["member_id"] for m in rfm.get_json()["members"]] == [members[10], members[9]]
    grid = {(c["r"], c["f"]): c for c in rfm.get_json()["grid"]}
    assert len(grid) == 25 and sum(c["members"] for c in grid.values()) == 10
    assert all(grid[(score, score)]["members"] == 2 for score in range(1, 6))  # R and F agree for every member
    assert grid[(5, 5)]["segment"] == "champions" and grid[(1, 5)]["segment"] == "cant_lose"

    def search(query: str) -> list[int]:
        response = client.get(f"/api/v1/admin/members?{query}&limit=100", headers=marketing)
        assert response.status_code == 200, response.get_json()
        return sorted(m["id"] for m in response.get_json()["items"])

    assert search("rfm_segment=champions") == sorted([members[9], members[10]])
    assert search("r_score=5&f_score=5") == sorted([members[9], members[10]])
    assert search("r_score=1") == sorted([members[1], members[2]])
    segments.recompute_lifecycle()
    assert search("lifecycle=active") == sorted(members.values())
    assert search("lifecycle=lapsed") == []
    db.session.get(Member, members[2]).invited_by_id = members[1]
    db.session.commit()
    assert search(f"invited_by={members[1]}") == [members[2]]
    for bad, code in (("lifecycle=sleepy", "unknown_stage"), ("rfm_segment=vips", "unknown_segment"),
                      ("r_score=6", "validation_error"), ("invited_by=0", "validation_error")):
        refused = client.get(f"/api/v1/admin/members?{bad}", headers=marketing)
        assert refused.status_code == 422 and refused.get_json()["error"]["code"] == code, bad
    unknown = client.get("/api/v1/admin/reports/rfm?segment=vips", headers=marketing)
    assert unknown.status_code == 422 and unknown.get_json()["error"]["code"] == "unknown_segment"
    csv_body = client.get("/api/v1/admin/reports/rfm?format=csv", headers=marketing).get_data().decode("utf-8-sig")
    assert csv_body.splitlines()[0] == "segment,members,monetary,share"


def test_rfm_ties_share_a_score(history, at):
    _at_day(at, date(2026, 2, 1))
    same = [history.member(f"s{i}") for i in range(3)]
    for member_id in same:
        history.purchase(member_id, 500)  # same frequency and monetary
    _at_day(at, date(2026, 3, 1))
    segments.compute_rfm()
    rows = list(db.session.scalars(select(MemberRfm)))
    assert {r.f_score for r in rows} == {1} and {r.m_score for r in rows} == {1}
    assert segments.compute_rfm()["scanned"] == 3  # re-runnable


def test_koc_ranks_inviters_by_converted_invitees(client, marketing, history, at):
    _at_day(at, date(2026, 2, 1))
    a, b = history.member("A"), history.member("B")
    a_invitees = [history.member(f"a{i}", invited_by=a) for i in range(3)]
    b_invitees = [history.member(f"b{i}", invited_by=b) for i in range(2)]
    for member_id in b_invitees:
        history.purchase(member_id, 1000)
    history.purchase(a_invitees[0], 1000)
    history.refund(history.purchase(a_invitees[1], 800), 800)  # refunded in full: converts no one
    _at_day(at, date(2026, 3, 1))
    segments.compute_koc()
    items = client.get("/api/v1/admin/reports/koc", headers=marketing).get_json()["items"]
    assert [(i["member_id"], i["invites"], i["converted"], i["rank"]) for i in items] == [(b, 2, 2, 1), (a, 3, 1, 2)]
    assert items[1]["conversion_rate"] == 0.3333
    csv_lines = client.get("/api/v1/admin/reports/koc?format=csv", headers=marketing).get_data(as_text=True)
    assert csv_lines.splitlines()[1].startswith(f"1,{b},B,2,2")


def test_jobs_run_in_their_own_context(history, at):
    from reports import jobs

    _at_day(at, date(2026, 2, 1))
    history.purchase(history.member("j"), 1000)
    _at_day(at, date(2026, 3, 1))
    assert jobs.recompute_lifecycle("2026-03-01")["scanned"] == 1
    result = jobs.compute_rfm()
    assert result["scanned"] == 1 and result["koc"] == 0


def test_marketing_recomputes_the_segments_now_with_today_in_them(client, marketing, staff, history, at):
    from rq import Queue, SimpleWorker

    from app.job_runs.models import JobRun
    from app.redis_store import get_redis

    _at_day(at, date(2026, 3, 1), hour=9)
    buyer = history.member("today")
    history.purchase(buyer, 5000)  # a purchase today: tonight's run (over yesterday) would not see it yet
    assert client.get("/api/v1/admin/reports/rfm", headers=marketing).get_json()["computed_at"] is None
    _at_day(at, date(2026, 3, 1), hour=10)
    answer = client.post("/api/v1/admin/reports/segments/recompute", headers=marketing)
    assert answer.status_code == 202 and answer.get_json()["queued"] is True
    again = client.post("/api/v1/admin/reports/segments/recompute", headers=marketing).get_json()
    assert again["queued"] is False and again["job_id"] == answer.get_json()["job_id"]  # a double click
    SimpleWorker([Queue("default", connection=get_redis())], connection=get_redis()).work(
        burst=True, with_scheduler=False)
    run = db.session.scalar(select(JobRun).where(JobRun.job == "compute_rfm"))
    assert (run.state, run.run_key, run.scanned) == ("succeeded", "2026-03-01", 1)
    report = client.get("/api/v1/admin/reports/rfm", headers=marketing).get_json()
    assert report["computed_on"] == "2026-03-01" and report["members_with_purchases"] == 1
    assert report["computed_at"].startswith("2026-03-01T02:00")  # 10:00 in Shanghai
    assert client.get("/api/v1/admin/reports/koc", headers=marketing).get_json()["computed_at"] == report["computed_at"]
    assert client.post("/api/v1/admin/reports/segments/recompute", headers=staff).status_code == 403

