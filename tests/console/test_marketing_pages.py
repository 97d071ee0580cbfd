"""The marketing console through Flask's test client: the dashboard, people and operations pages, their
rules (roles, CSRF, reasons, bad input changes nothing) and their CSV downloads."""
from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

import demo
from app.audit.models import AuditLog
from app.extensions import db
from app.job_runs import service as job_runs
from marketing import segments, tags
from marketing.models import Audience
from members.models import Member, MemberTag
from points.models import LedgerEntry, PointsAccount
from tests.console.helpers import count, post, sign_in

PAGES = ["/console/marketing", "/console/marketing/dashboard", "/console/marketing/members",
         "/console/marketing/members.csv", "/console/marketing/members/{member}",
         "/console/marketing/members/{member}/ledger", "/console/marketing/tags", "/console/marketing/audiences",
         "/console/marketing/audiences/{audience}", "/console/marketing/koc", "/console/marketing/koc.csv",
         "/console/marketing/super-users.csv", "/console/marketing/jobs", "/console/marketing/audit"]
POSTS = ["/console/marketing/members/{member}/points", "/console/marketing/members/{member}/tags",
         "/console/marketing/tags/bulk", "/console/marketing/audiences", "/console/marketing/audiences/preview",
         "/console/marketing/audiences/{audience}"]


@pytest.fixture
def history(at):
    """The demo program with its shoppers' months of history, the rollups and segments computed."""
    at("2026-03-05T10:00:00+08:00")
    demo.seed()


@pytest.fixture
def api_marketing(client, shopper) -> dict:
    """The demo's marketing login as a bearer token for the JSON API."""
    response = client.post("/api/v1/auth/operator-login", json={"username": "marketing", "password": "demo1234"})
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def _ids(shopper) -> dict:
    return {"member": shopper[0], "audience": db.session.scalar(select(Audience.id).limit(1))}


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_staff_and_managers_get_403_on_every_marketing_page(client, shopper):
    ids = _ids(shopper)
    entries, audits, tag_rows = count(LedgerEntry), count(AuditLog), count(MemberTag)
    for username in ("staff1", "manager1"):
        sign_in(client, username)
        for path in PAGES:
            response = client.get(path.format(**ids))
            assert response.status_code == 403, path
            assert "没有权限" in _text(response)
        for path in POSTS:
            response = post(client, path.format(**ids), {"delta": "5", "reason": "x", "tag": "vip-list"})
            assert response.status_code == 403, path
    assert (count(LedgerEntry), count(AuditLog), count(MemberTag)) == (entries, audits, tag_rows)


def test_marketing_and_admin_open_every_page(client, shopper):
    ids = _ids(shopper)
    for username in ("marketing", "admin"):
        sign_in(client, username)
        for path in PAGES:
            response = client.get(path.format(**ids))
            assert response.status_code in (200, 302), (path, response.status_code)
    assert client.get("/console/marketing").headers["Location"].endswith("/console/marketing/dashboard")


def test_signed_out_the_pages_go_to_sign_in(client, shopper):
    for path in PAGES:
        assert client.get(path.format(**_ids(shopper))).headers["Location"].startswith("/console/login")


def test_the_dashboard_shows_the_rollups_funnel_and_rfm_grid_with_links(client, history):
    sign_in(client, "marketing")
    page = _text(client.get("/console/marketing/dashboard"))
    members_total = db.session.scalar(select(db.func.count()).select_from(Member))
    assert re.search(r'id="fig-members".*?data-period="30d">' + str(members_total) + "<", page, re.S)
    for stage, members in segments.stage_counts().items():
        assert re.search(rf'lifecycle={stage}" data-stage="{stage}">.*?stage-count">{members}<', page, re.S)
    grid = segments.rfm_grid()
    assert len(grid) == 25 and sum(cell["members"] for cell in grid) == segments.latest_run().members_with_purchases
    busiest = max(grid, key=lambda cell: cell["members"])
    assert f'r_score={busiest["r"]}&amp;f_score={busiest["f"]}" data-r="{busiest["r"]}" data-f="{busiest["f"]}">' \
           f'{busiest["members"]}<' in page
    assert 'id="dashboard-data"' in page and "chart.umd.min.js" in page
    # a funnel link opens exactly the members of that stage
    listed = _text(client.get("/console/marketing/members?lifecycle=active&limit=100"))
    active = segments.stage_counts()["active"]
    assert listed.count("data-member-id=") == active > 0
    cell = _text(client.get(f"/console/marketing/members?r_score={busiest['r']}&f_score={busiest['f']}&limit=100"))
    assert cell.count("data-member-id=") == busiest["members"]


def test_member_search_combines_filters_and_refuses_bad_input_in_chinese(client, history):
    sign_in(client, "marketing")
    regular = db.session.scalar(select(Member).where(Member.nickname.is_not(None)).order_by(Member.id))
    page = _text(client.get(f"/console/marketing/members?nickname={regular.nickname}"))
    assert f'data-member-id="{regular.id}"' in page
    assert "****" in page or regular.phone is None  # phones masked
    response = client.get("/console/marketing/members?tier=nonesuch")
    assert response.status_code == 422 and "等级不存在" in _text(response)
    response = client.get("/console/marketing/members?tag=no-such-tag")
    assert response.status_code == 422 and "没有会员具有该标签" in _text(response)
    response = client.get("/console/marketing/members?joined_from=2026-03-05&joined_to=2026-03-01")
    assert response.status_code == 422 and 'data-code="bad_range"' in _text(response)
    response = client.get("/console/marketing/members?lifecycle=sleepy")
    assert response.status_code == 422 and "生命周期阶段无效" in _text(response)
    for bad in ("member_id=99999999999", "r_score=9", "joined_from=yesterday", "surprise=1"):
        assert client.get(f"/console/marketing/members?{bad}").status_code == 422, bad


def test_the_member_csv_opens_in_excel_and_carries_no_formula(client, shopper):
    member_id, _ = shopper
    member = db.session.get(Member, member_id)
    member.nickname = "=HYPERLINK(\"http://evil\")"
    db.session.commit()
    sign_in(client, "marketing")
    response = client.get("/console/marketing/members.csv?tier=" + member.tier.code)
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/csv; charset=utf-8"
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    text = body.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "\n=" not in text and ",=" not in text
    assert text.splitlines()[0].startswith("id,nickname,phone,tier")
    row = next(csv.reader(io.StringIO(text.splitlines()[1])))
    balance = db.session.get(PointsAccount, member_id)
    assert row[0] == str(member_id) and row[3] == member.tier.code
    assert row[5] == str(balance.available - balance.debt)
    row = db.session.scalars(select(AuditLog).where(AuditLog.action == "member.export")).one()
    assert row.actor_name == "marketing" and row.after["rows"] == 1


def test_the_member_api_exports_the_same_csv(client, api_marketing):
    response = client.get("/api/v1/admin/members/export?nickname=nobody-by-this-name", headers=api_marketing)
    assert response.status_code == 200 and response.get_data().decode("utf-8-sig").strip() == \
        "id,nickname,phone,tier,growth,points_balance,vip_until,source_channel,created_at"
    assert client.get("/api/v1/admin/members/export?limit=5", headers=api_marketing).status_code == 422


def test_an_export_past_the_cap_is_refused_not_cut(client, api_marketing, monkeypatch):
    from marketing import members

    monkeypatch.setattr(members, "EXPORT_MAX_ROWS", 0)
    response = client.get("/api/v1/admin/members/export", headers=api_marketing)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "too_many_rows"


def test_member_detail_shows_the_member_and_is_audited(client, shopper):
    member_id, _ = shopper
    sign_in(client, "marketing")
    page = _text(client.get(f"/console/marketing/members/{member_id}"))
    assert 'id="points-balance">' in page and 'id="ledger"' in page and 'id="coupons"' in page
    assert "新人礼" in page or "新人" in page
    views = AuditLog.query.filter_by(action="member.view").all()
    assert [(row.target_id, row.actor_name) for row in views] == [(str(member_id), "marketing")]
    assert client.get("/console/marketing/members/99999").status_code == 404


def _adjust(client, member_id: int, delta: str, reason: str, key: str | None = None):
    detail = f"/console/marketing/members/{member_id}"
    form = {"delta": delta, "reason": reason}
    if key is not None:
        form["key"] = key
    return post(client, f"{detail}/points", form, page=detail)


def test_marketing_adjusts_points_with_a_reason_and_ledger_and_audit_show_it(client, shopper):
    member_id, _ = shopper
    sign_in(client, "marketing")
    response = _adjust(client, member_id, "-300", "客诉补偿撤回", key="k1")
    page = _text(response)
    assert response.status_code == 200 and 'id="adjust-done"' in page and "-300" in page
    entry = db.session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "adjust",
                                                         LedgerEntry.note == "客诉补偿撤回")).one()
    assert entry.delta == -300
    assert "客诉补偿撤回" in page  # the ledger on the page shows the reason
    audit_page = _text(client.get(f"/console/marketing/audit?action=points.adjust&target_id={member_id}"))
    assert 'data-action="points.adjust"' in audit_page and "客诉补偿撤回" in audit_page and "marketing" in audit_page
    again = _adjust(client, member_id, "-300", "客诉补偿撤回", key="k1")  # a second click of the same form
    assert again.status_code == 200
    assert db.session.query(LedgerEntry).filter_by(kind="adjust", note="客诉补偿撤回").count() == 1


@pytest.mark.parametrize(("delta", "reason", "code"), [
    ("50", "   ", "reason_required"), ("50", "", "validation_error"), ("0", "x", "validation_error"),
    ("abc", "x", "bad_quantity"), ("1.5", "x", "bad_quantity"), ("99999999999999", "x", "validation_error"),
    ("-999999", "x", "insufficient_points"),
])
def test_a_bad_adjustment_is_refused_in_chinese_and_changes_nothing(client, shopper, delta, reason, code):
    member_id, _ = shopper
    sign_in(client, "marketing")
    before = count(LedgerEntry)
    response = _adjust(client, member_id, delta, reason, key="k2")
    assert response.status_code == 422 and f'data-code="{code}"' in _text(response)
    assert count(LedgerEntry) == before
    assert not AuditLog.query.filter_by(action="points.adjust").count()


def test_the_api_refuses_a_blank_reason_too(client, shopper, api_marketing):
    response = client.post(f"/api/v1/admin/members/{shopper[0]}/points-adjustments", headers=api_marketing,
                           json={"delta": 5, "reason": "  "})
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "reason_required"


def test_an_adjustment_posted_without_its_csrf_token_changes_nothing(client, shopper):
    sign_in(client, "marketing")
    before = count(LedgerEntry)
    response = client.post(f"/console/marketing/members/{shopper[0]}/points", data={"delta": "5", "reason": "x"})
    assert response.status_code == 400 and count(LedgerEntry) == before


def test_manual_tags_on_one_member(client, shopper):
    member_id, _ = shopper
    detail = f"/console/marketing/members/{member_id}"
    sign_in(client, "marketing")
    page = _text(post(client, f"{detail}/tags", {"tag": "门店活动"}, page=detail))
    assert 'data-tag="门店活动"' in page
    refused = post(client, f"{detail}/tags", {"tag": "vip"}, page=detail)
    assert refused.status_code == 422 and "系统自动标签" in _text(refused)
    page = _text(post(client, f"{detail}/tags", {"tag": "门店活动", "action": "remove"}, page=detail))
    assert 'data-tag="门店活动"' not in page
    assert [row.action for row in AuditLog.query.order_by(AuditLog.id)
            if row.action.startswith("member_tag")] == ["member_tag.add", "member_tag.remove"]


def _bulk(client, tag: str, content: bytes, action: str = "add"):
    token_page = "/console/marketing/tags"
    from tests.console.helpers import csrf_token

    token = csrf_token(_text(client.get(token_page)))
    return client.post("/console/marketing/tags/bulk", content_type="multipart/form-data",
                       data={"tag": tag, "action": action, "csrf_token": token,
                             "file": (io.BytesIO(content), "list.csv")})


def test_bulk_tagging_applies_the_good_rows_and_reports_the_others(client, shopper):
    member_id, _ = shopper
    sign_in(client, "marketing")
    upload = f"\ufeffmember_id,phone\n{member_id},\nabc,\n99999,\n,13800000000\n,not-a-phone\n".encode()
    response = _bulk(client, "双十一", upload)
    page = _text(response)
    assert response.status_code == 200
    assert 'id="bulk-members">1<' in page and 'id="bulk-changed">1<' in page and 'id="bulk-errors">4<' in page
    assert re.findall(r'data-row="(\d+)" data-code="(\w+)"', page) == [
        ("3", "invalid"), ("4", "not_found"), ("5", "not_found"), ("6", "invalid")]
    assert db.session.get(MemberTag, (member_id, "双十一")).source == "manual"
    assert 'data-tag="双十一"' in page  # now in the tag list
    removed = _text(_bulk(client, "双十一", f"member_id\n{member_id}\n".encode(), "remove"))
    assert 'id="bulk-changed">1<' in removed and db.session.get(MemberTag, (member_id, "双十一")) is None


@pytest.mark.parametrize(("tag", "content", "code"), [
    ("ok", b"nickname\nx\n", "bad_csv"), ("ok", b"\xff\xfe\x00", "bad_csv"), ("vip", b"member_id\n1\n", "reserved_tag"),
    ("", b"member_id\n1\n", "validation_error"),
])
def test_a_bad_bulk_upload_is_refused_and_changes_nothing(client, shopper, tag, content, code):
    sign_in(client, "marketing")
    before = count(MemberTag)
    response = _bulk(client, tag, content)
    assert response.status_code == 422 and f'data-code="{code}"' in _text(response)
    assert count(MemberTag) == before


def test_a_bulk_upload_without_a_file_is_refused(client, shopper):
    sign_in(client, "marketing")
    response = post(client, "/console/marketing/tags/bulk", {"tag": "x"}, page="/console/marketing/tags")
    assert response.status_code == 422


def test_audiences_preview_live_then_save_and_edit(client, history):
    sign_in(client, "marketing")
    expected = segments.stage_counts()["active"]
    preview = post(client, "/console/marketing/audiences/preview", [("lifecycle", "active")],
                   page="/console/marketing/audiences", headers={"HX-Request": "true"})
    assert f'data-count="{expected}"' in _text(preview)
    assert count(Audience) == 4  # the preview saved nothing
    bad = post(client, "/console/marketing/audiences/preview", [("points_min", "10"), ("points_max", "5")],
               page="/console/marketing/audiences")
    assert 'data-code="bad_range"' in _text(bad)
    created = post(client, "/console/marketing/audiences", [("name", "活跃会员"), ("lifecycle", "active")],
                   page="/console/marketing/audiences")
    assert created.status_code == 200 and f"{expected} 人" in _text(created)
    audience = Audience.query.filter_by(name="活跃会员").one()
    assert audience.filter == {"lifecycle": ["active"]}
    duplicate = post(client, "/console/marketing/audiences", [("name", "活跃会员"), ("lifecycle", "new")],
                     page="/console/marketing/audiences")
    assert duplicate.status_code == 422 and "已有同名人群" in _text(duplicate)
    path = f"/console/marketing/audiences/{audience.id}"
    page = _text(client.get(path))
    assert 'value="active" checked' in page
    edited = post(client, path, [("name", "活跃会员"), ("lifecycle", "active"), ("lifecycle", "at_risk")], page=path)
    assert edited.status_code == 200
    db.session.refresh(audience)
    assert audience.filter == {"lifecycle": ["active", "at_risk"]}
    refused = post(client, path, [("name", "活跃会员"), ("tags", "no-such-tag")], page=path)
    assert refused.status_code == 422
    db.session.refresh(audience)
    assert audience.filter == {"lifecycle": ["active", "at_risk"]}
    assert client.get("/console/marketing/audiences/99999").status_code == 404


def test_koc_and_super_user_lists_and_their_csv(client, history):
    sign_in(client, "marketing")
    page = _text(client.get("/console/marketing/koc"))
    koc = segments.koc_report(100)["items"]
    assert koc and page.count("<tr><td>") >= len(koc)
    for path, header in (("/console/marketing/koc.csv", "rank,member_id,nickname"),
                         ("/console/marketing/super-users.csv", "member_id,spend_12m,frequency,segment")):
        body = client.get(path).get_data()
        assert body.startswith("\ufeff".encode()) and body.decode("utf-8-sig").startswith(header)


def test_job_runs_page_shows_failures_with_their_error_and_refreshes_itself(client, program):
    db.session.commit()  # the runs are written on a connection of their own
    good = job_runs.start("expire_points", "2026-03-04", None)
    job_runs.finish(good, {"scanned": 3, "changed": 1, "skipped": 0, "failed": 0})
    bad = job_runs.start("rollup_reports", "2026-03-04", None)
    job_runs.finish(bad, {"scanned": 0, "changed": 0, "skipped": 0, "failed": 1}, error="boom: the database went away")
    sign_in(client, "marketing")
    page = _text(client.get("/console/marketing/jobs"))
    assert f'data-run-id="{good}"' in page and f'data-run-id="{bad}"' in page
    assert 'hx-trigger="every 5s"' in page
    failed = _text(client.get("/console/marketing/jobs?state=failed", headers={"HX-Request": "true"}))
    assert "<nav" not in failed  # the fragment only
    assert f'data-run-id="{bad}"' in failed and f'data-run-id="{good}"' not in failed
    assert "boom: the database went away" in failed
    assert client.get("/console/marketing/jobs?state=exploded").status_code == 422


def test_the_audit_log_filters(client, shopper):
    member_id, _ = shopper
    sign_in(client, "marketing")
    client.get(f"/console/marketing/members/{member_id}")
    _adjust(client, member_id, "10", "生日补发")
    everything = _text(client.get("/console/marketing/audit"))
    assert 'data-action="member.view"' in everything and 'data-action="points.adjust"' in everything
    only = _text(client.get("/console/marketing/audit?action=points.adjust"))
    assert 'data-action="member.view"' not in only and "生日补发" in only
    none = _text(client.get("/console/marketing/audit?since=2099-01-01"))
    assert "没有符合条件的记录" in none
    assert client.get("/console/marketing/audit?since=notaday").status_code == 422
    assert client.get("/console/marketing/audit?actor_id=-1").status_code == 422


def test_the_demo_leaves_tags_and_an_adjustment_to_click_through(client, history):
    sign_in(client, "marketing")
    assert 'data-tag="社群活跃"' in _text(client.get("/console/marketing/tags"))
    audit_page = _text(client.get("/console/marketing/audit?action=points.adjust"))
    assert "门店客诉补偿" in audit_page
    entries, audits = count(LedgerEntry), count(AuditLog)
    demo.seed()  # a second run changes nothing
    assert (count(LedgerEntry), count(AuditLog)) == (entries, audits)


def test_a_bulk_csv_above_the_usual_1_mib_body_is_taken_up_to_the_bulk_limit(client, shopper):
    member_id, _ = shopper
    sign_in(client, "marketing")
    rows = f"{member_id},,{'x' * 20}\n" * 60_000
    content = ("member_id,phone,note\n" + rows).encode()
    assert 1024 * 1024 < len(content) < tags.BULK_MAX_BYTES  # the CSRF check reads the form first: it must know
    page = _text(_bulk(client, "大名单", content))
    assert 'id="bulk-rows">60000<' in page and 'id="bulk-members">1<' in page


def test_times_are_shown_in_the_business_time_zone(client, program, at):
    at("2026-03-06T01:00:00+08:00")  # 5 March in UTC, 6 March in Shanghai
    member_id = client.post("/api/v1/auth/wechat-login", json={"code": "test-early"}).get_json()["member"]["id"]
    sign_in(client, "marketing")
    row = re.search(rf'<tr data-member-id="{member_id}">.*?</tr>', _text(client.get("/console/marketing/members")),
                    re.S).group(0)
    assert "2026-03-06" in row and "2026-03-05" not in row
