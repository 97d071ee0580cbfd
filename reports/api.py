"""Marketing routes: reports (JSON or CSV), tags, audiences, lifecycle settings."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app import csv_export
from app.auth import admin_required
from marketing import segments
from reports import summary
from reports.schemas import (
    DailyOut,
    KocOut,
    LifecycleOut,
    LifecycleSettingsSchema,
    LimitArgs,
    RangeArgs,
    RecomputeOut,
    RfmArgs,
    RfmOut,
    SummaryOut,
    SuperUsersOut,
)

reports_blp = Blueprint("reports", __name__, url_prefix="/api/v1/admin/reports", description="Reports")


CSV_DOC = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}  # `?format=csv`
RFM_MEMBER_COLUMNS = ["member_id", "segment", "r_score", "f_score", "m_score", "frequency", "monetary", "spend_12m",
                      "last_purchase_at", "super_user"]


@reports_blp.route("/summary")
class Summary(MethodView):
    @admin_required
    @reports_blp.arguments(RangeArgs, location="query", unknown=RAISE)
    @reports_blp.response(200, SummaryOut)
    @reports_blp.doc(responses=CSV_DOC)
    def get(self, args):
        """Program figures over a range of business days (from rollups; today live)."""
        report = summary.summary(args["from_"], args["to"])
        return csv_export.response(summary.summary_csv(report), "summary") if args["format"] == "csv" else report


@reports_blp.route("/daily")
class Daily(MethodView):
    @admin_required
    @reports_blp.arguments(RangeArgs, location="query", unknown=RAISE)
    @reports_blp.response(200, DailyOut)
    @reports_blp.doc(responses=CSV_DOC)
    def get(self, args):
        """The summary's figures per business day, for charts."""
        report = summary.daily(args["from_"], args["to"])
        return csv_export.response(summary.daily_csv(report), "daily") if args["format"] == "csv" else report


@reports_blp.route("/rfm")
class Rfm(MethodView):
    @admin_required
    @reports_blp.arguments(RfmArgs, location="query", unknown=RAISE)
    @reports_blp.response(200, RfmOut)
    @reports_blp.doc(responses=CSV_DOC)
    def get(self, args):
        """RFM segments of the last scoring run; `?segment=` lists that segment's members by value."""
        report = segments.rfm_report(args["segment"], args["limit"])
        if args["format"] == "csv":
            if args["segment"] is not None:  # the segment's members, as the JSON's `members`
                text = summary.rows_csv(RFM_MEMBER_COLUMNS, report["members"])
                return csv_export.response(text, f"rfm-{args['segment']}")
            text = summary.rows_csv(["segment", "members", "monetary", "share"], report["segments"])
            return csv_export.response(text, "rfm")
        return report


@reports_blp.route("/segments/recompute")
class RecomputeSegments(MethodView):
    @admin_required
    @reports_blp.response(202, RecomputeOut)
    def post(self):
        """Compute RFM, super users and KOC now, through the end of today (progress: GET /admin/jobs)."""
        return segments.request_recompute()


@reports_blp.route("/super-users")
class SuperUsers(MethodView):
    @admin_required
    @reports_blp.arguments(LimitArgs, location="query", unknown=RAISE)
    @reports_blp.response(200, SuperUsersOut)
    @reports_blp.doc(responses=CSV_DOC)
    def get(self, args):
        """The top 20% by 12-month spend and their share of revenue."""
        report = segments.super_users_report(args["limit"])
        if args["format"] == "csv":
            return csv_export.response(summary.super_users_csv(report), "super-users")
        return report


@reports_blp.route("/koc")
class Koc(MethodView):
    @admin_required
    @reports_blp.arguments(LimitArgs, location="query", unknown=RAISE)
    @reports_blp.response(200, KocOut)
    @reports_blp.doc(responses=CSV_DOC)
    def get(self, args):
        """KOC candidates: members ranked by invitees converted to a first purchase, then task posts, invites."""
        report = segments.koc_report(args["limit"])
        if args["format"] == "csv":
            return csv_export.response(summary.koc_csv(report), "koc")
        return report


@reports_blp.route("/lifecycle")
class Lifecycle(MethodView):
    @admin_required
    @reports_blp.response(200, LifecycleOut)
    def get(self):
        """Members per lifecycle stage (last job run) and the thresholds."""
        return {"stages": segments.stage_counts(), "settings": segments.get_settings()}


@reports_blp.route("/lifecycle-settings")
class LifecycleSettingsView(MethodView):
    @admin_required
    @reports_blp.response(200, LifecycleSettingsSchema)
    def get(self):
        """Lifecycle thresholds in days."""
        return segments.get_settings()

    @admin_required
    @reports_blp.arguments(LifecycleSettingsSchema)
    @reports_blp.response(200, LifecycleSettingsSchema)
    def put(self, body):
        """Change lifecycle thresholds (applied by the next lifecycle job run); audited."""
        return segments.update_settings(body)


blueprints = [reports_blp]
