"""The CLI backfill, and the demo seed (idempotent, shows the reports' part)."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from app.extensions import db
from demo import reports as demo
from marketing.models import Audience
from reports.models import ReportDaily


def test_cli_rollup_backfills_a_range(app, history, at):
    at("2026-03-01T10:00:00+08:00")
    history.purchase(history.member("m"), 1000, earn=10)
    at("2026-03-05T10:00:00+08:00")
    result = app.test_cli_runner().invoke(args=["reports", "rollup", "--from", "2026-03-01", "--to", "2026-03-03"])
    assert result.exit_code == 0, result.output
    days = list(db.session.scalars(select(ReportDaily.day).order_by(ReportDaily.day)))
    assert days == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]
    assert db.session.get(ReportDaily, date(2026, 3, 3)).points_outstanding == 10
    segments_run = app.test_cli_runner().invoke(args=["reports", "segments"])
    assert segments_run.exit_code == 0 and "lifecycle" in segments_run.output


def test_demo_seed_is_idempotent(history, at):
    at("2026-03-01T10:00:00+08:00")
    history.purchase(history.member("m"), 1000)
    at("2026-03-02T10:00:00+08:00")
    lines = demo.seed()
    demo.seed()
    assert db.session.scalar(select(func.count()).select_from(Audience)) == len(demo.AUDIENCES)
    assert any("沉睡召回" in line for line in lines)
    assert db.session.get(ReportDaily, date(2026, 3, 1)).purchases_count == 1
