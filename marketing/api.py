"""Marketing routes: member search and detail, tags, saved audiences and targeted coupon issues."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app import csv_export
from app.auth import ADMIN_ROLES, admin_required, current_identity
from app.inbound import body_limit
from app.openapi import Blueprint as UploadBlueprint
from app.pagination import ListArgs, page_schema
from coupons.schemas import IssueIn, IssueOut
from marketing import audiences, issues, members, tags
from marketing.member_schemas import (
    AdminMemberDetail,
    AdminMemberExportQuery,
    AdminMemberPage,
    AdminMemberQuery,
    RevokedSessionsOut,
)
from marketing.schemas import (
    AudienceFilter,
    AudienceIn,
    AudienceListArgs,
    AudiencePage,
    AudiencePatch,
    BulkOut,
    BulkUpload,
    MemberTagsOut,
    PreviewOut,
    SavedAudienceOut,
    TagCountsOut,
    TagIn,
    TagQuery,
)
from members import service as member_service

members_blp = Blueprint("admin_members", __name__, url_prefix="/api/v1/admin/members",
                        description="Marketing: find members and open one (phones masked; opening one is audited)")
tags_blp = UploadBlueprint("tags", __name__, url_prefix="/api/v1/admin", description="Member tags")
audiences_blp = Blueprint("audiences", __name__, url_prefix="/api/v1/admin/audiences", description="Audiences")
issues_blp = Blueprint("coupon_issues", __name__, url_prefix="/api/v1/admin",
                       description="Targeted coupon issues")


@members_blp.route("")
class AdminMembers(MethodView):
    @admin_required
    @members_blp.arguments(AdminMemberQuery, location="query", unknown=RAISE)
    @members_blp.response(200, AdminMemberPage)
    def get(self, args):
        """Search members; every filter given must match. Newest first."""
        limit, cursor = args.pop("limit"), args.pop("cursor")
        return members.search(args, limit, cursor)


@members_blp.route("/export")
class AdminMembersExport(MethodView):
    @admin_required
    @members_blp.arguments(AdminMemberExportQuery, location="query", unknown=RAISE)
    @members_blp.doc(responses={200: {"description": "the CSV file",
                                      "content": {"text/csv": {"schema": {"type": "string"}}}}})
    def get(self, args):
        """Every member the search's filters match, as a CSV for Excel (UTF-8 BOM, no formulas; phones masked;
        at most 50,000 rows, else 422 `too_many_rows`). Audited (`member.export`)."""
        return csv_export.response(members.export_csv(args), "members")


@members_blp.route("/<int:member_id>")
class AdminMember(MethodView):
    @admin_required
    @members_blp.response(200, AdminMemberDetail)
    def get(self, member_id):
        """One member: profile, tier, points, VIP, tags, latest ledger, coupons, tier history, referrals.
        Writes a `member.view` audit row."""
        return members.detail(member_id)


@members_blp.route("/<int:member_id>/revoke-sessions")
class RevokeSessions(MethodView):
    @admin_required
    @members_blp.response(200, RevokedSessionsOut)
    def post(self, member_id):
        """End every session of the member: tokens issued until now are refused (401 `token_revoked`) at their
        next request; the member logs in again. Audited (`member.revoke_sessions`)."""
        return member_service.revoke_sessions(member_id)


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
    @body_limit(tags.BULK_MAX_BYTES)
    @admin_required
    @tags_blp.arguments(BulkUpload, location="multipart")
    @tags_blp.response(200, BulkOut)
    def post(self, body):
        """Add (or remove) a manual tag for the members a CSV names by `member_id` or `phone`; the good rows
        are applied and the others reported row by row; audited."""
        return tags.bulk_tag(body["tag"], body["file"].read(), body["action"])


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


@issues_blp.route("/coupon-templates/<int:template_id>/issue")
class Issue(MethodView):
    @admin_required
    @issues_blp.arguments(IssueIn)
    @issues_blp.response(202, IssueOut)
    @issues_blp.doc(description=f"Caller: {', '.join(ADMIN_ROLES)}.\n\n"
                   "Re-posting the same `key` returns the same issue and queues it again if it is not done (after "
                   "a 503 `coupon_issue_not_queued`, or once it has failed); a job already queued or running is "
                   "not doubled. Unknown tier codes or tags: 422 naming the field.")
    def post(self, body, template_id: int):
        """Issue to a target group in the background (RQ `grants` queue); poll the issue for progress."""
        return issues.progress(issues.request_issue(template_id, body["audience"], body.get("key"),
                                                    current_identity().id))


@issues_blp.route("/coupon-templates/<int:template_id>/issues")
class IssueList(MethodView):
    @admin_required
    @issues_blp.arguments(ListArgs, location="query")
    @issues_blp.response(200, page_schema(IssueOut, "IssuePage"))
    def get(self, args, template_id: int):
        """The template's targeted issues, newest first, each with its progress."""
        return issues.list_issues(template_id, args["limit"], args["cursor"])


@issues_blp.route("/coupon-templates/<int:template_id>/issues/<int:issue_id>")
class IssueProgress(MethodView):
    @admin_required
    @issues_blp.response(200, IssueOut)
    def get(self, template_id: int, issue_id: int):
        """Progress of a targeted issue: issued, skipped, failed, the members still to reach and the percent."""
        return issues.progress(issues.get_issue(template_id, issue_id))


blueprints = [members_blp, tags_blp, audiences_blp, issues_blp]
