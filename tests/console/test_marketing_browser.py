"""The marketing console as marketing uses it, in headless Chromium: the dashboard's charts drawn from the
demo's history, a points adjustment that the ledger and the audit log then show, bulk tagging with its
per-row report, the live audience count, and a store session refused on every marketing page."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import demo
from app.extensions import db
from points.models import LedgerEntry
from tests.console.browser import CHROMIUM, release_database, sign_in

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH: apt-get install chromium")]

CHARTS = ["chart-sales", "chart-tiers", "chart-points", "chart-members", "chart-rates", "chart-liability"]
MARKETING_PAGES = ["/console/marketing", "/console/marketing/dashboard", "/console/marketing/members",
                   "/console/marketing/members.csv", "/console/marketing/members/1", "/console/marketing/tags",
                   "/console/marketing/audiences", "/console/marketing/koc", "/console/marketing/koc.csv",
                   "/console/marketing/super-users.csv", "/console/marketing/jobs", "/console/marketing/audit"]


def _read(query):
    """A read in a transaction of its own, ended at once (an open read would hold SQLite's lock)."""
    db.session.remove()
    try:
        return query()
    finally:
        db.session.rollback()


def test_the_dashboards_charts_render_from_the_demos_history(at, browser, server, tmp_path):
    at("2026-03-05T10:00:00+08:00")
    demo.seed()
    release_database()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, "marketing")
    assert page.url.endswith("/console/marketing/dashboard")
    for chart in CHARTS:
        page.wait_for_selector(f"#{chart}[data-rendered='1']")
    drawn = page.evaluate("""(ids) => ids.map(id => {
        const chart = Chart.getChart(id);
        return chart.data.datasets.reduce((sum, set) => sum + set.data.reduce((a, b) => a + b, 0), 0);
    })""", CHARTS)
    assert all(total > 0 for total in drawn), dict(zip(CHARTS, drawn, strict=True))
    assert page.evaluate("Chart.getChart('chart-sales').data.labels.length") == 30
    assert int(page.inner_text("#funnel [data-stage=active] .stage-count")) > 0
    shots = Path(os.environ["CONSOLE_SCREENSHOT_DIR"]) if os.environ.get("CONSOLE_SCREENSHOT_DIR") else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    page.click("#funnel [data-stage=active]")  # the list behind the figure
    page.wait_for_selector("#members-table")
    assert page.locator("#members-table tr[data-member-id]").count() == min(_active_members(), 20)  # a page
    context.close()


def _active_members() -> int:
    from marketing import segments

    return _read(lambda: segments.stage_counts()["active"])


def test_marketing_adjusts_a_members_points_and_the_ledger_and_audit_log_show_it(shopper, page):
    member_id, _ = shopper
    sign_in(page, "marketing")
    page.click("#marketing-nav >> text=会员")
    page.click(f"#members-table tr[data-member-id='{member_id}'] a >> nth=0")
    balance = int(page.inner_text("#points-balance"))
    page.fill("#adjust-delta", "-200")
    page.fill("#adjust-reason", "重复发放，收回")
    page.click("#adjust-form button[type=submit]")
    page.wait_for_selector("#adjust-done")
    assert int(page.inner_text("#points-balance")) == balance - 200
    row = page.locator("#ledger tr[data-kind=adjust]").first
    assert "重复发放，收回" in row.inner_text() and "-200" in row.inner_text()
    page.click("#marketing-nav >> text=操作日志")
    page.fill("#f-action", "points.adjust")
    page.click("#audit-filter button[type=submit]")
    entry = page.locator("#audit-table tr[data-action='points.adjust']")
    assert entry.count() == 1
    assert "重复发放，收回" in entry.inner_text() and "marketing" in entry.inner_text()
    assert _read(lambda: db.session.query(LedgerEntry).filter_by(note="重复发放，收回").count()) == 1


def test_a_blank_reason_is_refused_on_the_page(shopper, page):
    member_id, _ = shopper
    sign_in(page, "marketing")
    page.goto(f"/console/marketing/members/{member_id}")
    page.fill("#adjust-delta", "50")
    page.fill("#adjust-reason", "   ")
    page.click("#adjust-form button[type=submit]")
    page.wait_for_selector("[data-code=reason_required]")
    assert _read(lambda: db.session.query(LedgerEntry).filter_by(kind="adjust", delta=50).count()) == 0


def test_bulk_tagging_reports_each_bad_row(shopper, page, tmp_path):
    member_id, _ = shopper
    upload = tmp_path / "名单.csv"
    upload.write_text(f"member_id,phone\n{member_id},\nxyz,\n,13999999999\n", encoding="utf-8-sig")
    sign_in(page, "marketing")
    page.goto("/console/marketing/tags")
    page.fill("#bulk-tag", "春季新品")
    page.set_input_files("#bulk-file", str(upload))
    page.click("#bulk-form button[type=submit]")
    page.wait_for_selector("#bulk-report")
    assert page.inner_text("#bulk-changed") == "1" and page.inner_text("#bulk-errors") == "2"
    assert page.locator("#bulk-error-rows tr[data-row='3'][data-code='invalid']").count() == 1
    assert page.locator("#bulk-error-rows tr[data-row='4'][data-code='not_found']").count() == 1
    page.click("#tag-counts tr[data-tag='春季新品'] a")
    page.wait_for_selector(f"#members-table tr[data-member-id='{member_id}']")


def test_the_audience_count_follows_the_form(shopper, page):
    sign_in(page, "marketing")
    page.goto("/console/marketing/audiences")
    page.fill("#aud-points-min", "1000")
    page.wait_for_selector("#preview-count")
    assert page.get_attribute("#preview-count", "data-count") == "1"  # the shopper holds 1,000+ points
    page.fill("#aud-points-min", "100000")
    page.wait_for_selector("#preview-count[data-count='0']")


def test_a_staff_session_gets_403_on_every_marketing_page(program, page):
    sign_in(page, "staff1")
    for path in MARKETING_PAGES:
        response = page.goto(path)
        assert response.status == 403, path
        assert "没有权限" in page.inner_text("body")
    assert "数据看板" not in page.inner_text("nav")


def test_the_job_runs_page_shows_a_new_failure_without_a_reload(program, page):
    from app.job_runs import service as job_runs

    sign_in(page, "marketing")
    page.goto("/console/marketing/jobs")
    page.wait_for_selector("#job-runs-table")
    release_database()
    run = job_runs.start("rollup_reports", "2026-03-04", None)
    job_runs.finish(run, {"scanned": 0, "changed": 0, "skipped": 0, "failed": 1}, error="boom: disk full")
    row = page.wait_for_selector(f"#job-runs-table tr[data-run-id='{run}'][data-state=failed]")  # the 5 s refresh
    assert "boom: disk full" in row.inner_text()
