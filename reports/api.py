"""Marketing routes: reports (JSON or CSV), tags, audiences, lifecycle settings."""
from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app.auth import admin_required
from reports import audiences, segments, summary, tags
from reports.schemas import (
    AudienceFilter,
    AudienceIn,
    AudienceListArgs,
    AudiencePage,
    AudiencePatch,
    BulkFile,
    BulkForm,
    BulkOut,
    DailyOut,
    KocOut,
    LifecycleOut,
    LifecycleSettingsSchema,
    LimitArgs,
    MemberTagsOut,
    PreviewOut,
    RangeArgs,
    RfmArgs,
    RfmOut,
    SavedAudienceOut,
    SummaryOut,
    SuperUsersOut,
    TagCountsOut,
    TagIn,
    TagQuery,
)

reports_blp = Blueprint("reports", __name__, url_prefix="/api/v1/admin/reports", description="Reports")
tags_blp = Blueprint("tags", __name__, url_prefix="/api/v1/admin", description="Member tags")
audiences_blp = Blueprint("audiences", __name__, url_prefix="/api/v1/admin/audiences", description="Audiences")

CSV_DOC = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}  # `?format=csv`


def _csv(text: str, name: str) -> Response:
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@reports_blp.route("/summary")
class Summary(MethodView):
    @admin_required
    @reports_blp.arguments(RangeArgs, location="query", unknown=RAISE)
    @reports_blp.response(200, SummaryOut)
    @reports_blp.doc(responses=CSV_DOC)
    def get(self, args):
        """Program figures over a range of business days (from rollups; today live)."""
        report = summary.summary(args["from_"], args["to"])
        return _csv(summary.summary_csv(report), "summary") if args["format"] == "csv" else report


@reports_blp.route("/daily")
class Daily(MethodView):
    @admin_required
    @reports_blp.arguments(RangeArgs, location="query", unknown=RAISE)
    @reports_blp.response(200, DailyOut)
    @reports_blp.doc(responses=CSV_DOC)
    def get(self, args):
        """The summary's figures per business day, for charts."""
        report = summary.daily(args["from_"], args["to"])
        return _csv(summary.daily_csv(report), "daily") if args["format"] == "csv" else report


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
            return _csv(summary.rows_csv(["segment", "members", "monetary", "share"], report["segments"]), "rfm")
        return report


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
            columns = ["member_id", "spend_12m", "frequency", "segment"]
            rows = [{c: getattr(m, c) for c in columns} for m in report["top"]]
            return _csv(summary.rows_csv(columns, rows), "super-users")
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
            columns = ["rank", "member_id", "nickname", "invites", "converted", "conversion_rate", "posts"]
            return _csv(summary.rows_csv(columns, report["items"]), "koc")
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


# --- tags ---------------------------------------------------------------------------------------------

@tags_blp.route("/members/<int:member_id>/tags")
class MemberTags(MethodView):
    @admin_required
    @tags_blp.response(200, MemberTagsOut)
    def get(self, member_id):
        """A member's tags, automatic and manual."""
        return {"member_id": member_id, "tags": tags.member_tags(member_id)}

    @admin_required
    @tags_blp.arguments(TagIn)
    @tags_blp.response(200, MemberTagsOut)
    def post(self, body, member_id):
        """Put a manual tag on a member; audited."""
        return {"member_id": member_id, "tags": tags.add_manual_tag(member_id, body["tag"])}

    @admin_required
    @tags_blp.arguments(TagQuery, location="query", unknown=RAISE)
    @tags_blp.response(200, MemberTagsOut)
    def delete(self, args, member_id):
        """Take a manual tag off (`?tag=`); automatic tags belong to the jobs (409); audited."""
        return {"member_id": member_id, "tags": tags.remove_manual_tag(member_id, args["tag"])}


@tags_blp.route("/tags")
class Tags(MethodView):
    @admin_required
    @tags_blp.response(200, TagCountsOut)
    def get(self):
        """Every tag in use and how many members carry it."""
        return {"items": tags.tag_counts()}


@tags_blp.route("/tags/bulk")
class BulkTags(MethodView):
    @admin_required
    @tags_blp.arguments(BulkForm, location="form")
    @tags_blp.arguments(BulkFile, location="files")
    @tags_blp.response(200, BulkOut)
    def post(self, form, files):
        """Add (or remove) a manual tag for the members a CSV names by `member_id` or `phone`; the good rows
        are applied and the others reported row by row; audited."""
        return tags.bulk_tag(form["tag"], files["file"].read(), form["action"])


# --- audiences ----------------------------------------------------------------------------------------

@audiences_blp.route("")
class Audiences(MethodView):
    @admin_required
    @audiences_blp.arguments(AudienceListArgs, location="query", unknown=RAISE)
    @audiences_blp.response(200, AudiencePage)
    def get(self, args):
        """Saved audiences (open one for its live count)."""
        return audiences.listing(args["limit"], args["cursor"])

    @admin_required
    @audiences_blp.arguments(AudienceIn)
    @audiences_blp.response(201, SavedAudienceOut)
    def post(self, body):
        """Save a filter as an audience; answers with its live count; audited."""
        return audiences.create(body["name"], body["filter"], body.get("description"))


@audiences_blp.route("/preview")
class AudiencePreview(MethodView):
    @admin_required
    @audiences_blp.arguments(AudienceFilter)
    @audiences_blp.response(200, PreviewOut)
    def post(self, body):
        """Count a filter without saving it."""
        return audiences.preview(body)


@audiences_blp.route("/<int:audience_id>")
class AudienceView(MethodView):
    @admin_required
    @audiences_blp.response(200, SavedAudienceOut)
    def get(self, audience_id):
        """One audience with its live count."""
        return audiences.with_count(audiences.get(audience_id))

    @admin_required
    @audiences_blp.arguments(AudiencePatch)
    @audiences_blp.response(200, SavedAudienceOut)
    def patch(self, body, audience_id):
        """Rename or change the filter; audited."""
        return audiences.update(audience_id, body)


blueprints = [reports_blp, tags_blp, audiences_blp]
