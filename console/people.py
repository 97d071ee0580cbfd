"""The marketing console's people pages: member search and CSV, one member (ledger, coupons, tier history,
referrals, tags) with points adjustments and manual tags, tags with CSV bulk tagging, audiences with a live
count, and the KOC and super-user lists. Thin views over the services the /admin API routes call, with the
API's own schemas checking what the forms send; no rule lives here."""
from __future__ import annotations

import uuid

from flask import render_template, request, url_for
from marshmallow import ValidationError as SchemaError
from werkzeug.datastructures import MultiDict

from app import csv_export
from app.errors import ApiError
from app.inbound import body_limit
from console import forms, session
from console.blueprint import blp, schema_error
from console.dashboard import SEGMENT_NAMES, STAGE_NAMES
from marketing import audiences, members, segments, tags
from marketing.member_schemas import AdminMemberExportQuery, AdminMemberQuery
from marketing.schemas import AudienceFilter, AudienceIn, AudiencePatch, BulkUpload
from points import adjustments, history
from points.schemas import AdjustmentIn
from reports import summary
from tiers import ladder

MARKETING = ("marketing", "admin")
LIST_LIMIT = 100  # the KOC and super-user lists, on the page and in their CSV


def _search_args(args: MultiDict) -> dict:
    """The search form's query string as the API's query: blank fields dropped, tags comma-separated."""
    raw: dict = {name: value.strip() for name, value in args.items() if name != "tag" and value.strip()}
    tag_list = [t.strip() for value in args.getlist("tag") for t in value.split(",") if t.strip()]
    if tag_list:
        raw["tag"] = tag_list
    return raw


@blp.get("/marketing/members", endpoint="members")
@session.requires(*MARKETING)
def members_page():
    """Member search: every filter given must match; newest first, a page at a time."""
    raw = _search_args(request.args)
    context: dict = {"filters": {name: value for name, value in raw.items() if name != "cursor"}, "page": None}
    try:
        query = AdminMemberQuery().load(raw)
        limit, cursor = query.pop("limit"), query.pop("cursor")
        context["page"] = members.search(query, limit, cursor)
    except SchemaError as error:
        context["error"] = schema_error(error)
    except ApiError as error:
        context["error"] = error
    export = {name: value for name, value in raw.items() if name not in ("limit", "cursor")}
    return render_template("console/members.html", area="members", ladder=ladder.ladder_copy(),
                           stage_names=STAGE_NAMES, segment_names=SEGMENT_NAMES,
                           export_url=url_for("console.members_csv", **export),
                           **context), 422 if "error" in context else 200


@blp.get("/marketing/members.csv")
@session.requires(*MARKETING)
def members_csv():
    """The whole search as a CSV for Excel (audited as `member.export`, like the API's /members/export)."""
    try:
        text = members.export_csv(AdminMemberExportQuery().load(_search_args(request.args)))
    except (ApiError, SchemaError) as error:
        error = schema_error(error) if isinstance(error, SchemaError) else error
        return render_template("console/members.html", area="members", ladder=ladder.ladder_copy(),
                               stage_names=STAGE_NAMES, segment_names=SEGMENT_NAMES, filters={}, page=None,
                               export_url=None, error=error), 422
    return csv_export.response(text, "members")


# --- one member ---------------------------------------------------------------------------------------

def _member_page(member_id: int, status: int = 200, **context):
    """The member's page (opening it writes the `member.view` audit row, as the API's detail does)."""
    context.setdefault("adjust_key", uuid.uuid4().hex)
    return render_template("console/member.html", area="members", member=members.detail(member_id),
                           **context), status


@blp.get("/marketing/members/<int:member_id>")
@session.requires(*MARKETING)
def member_detail(member_id: int):
    try:
        return _member_page(member_id)
    except ApiError as error:
        return render_template("console/error.html", message_code=error.code), error.status


@blp.post("/marketing/members/<int:member_id>/points")
@session.requires(*MARKETING)
def member_adjust(member_id: int):
    """Add or take points with a reason. The key is fixed when the page renders, so a second click of the
    same form is the same adjustment (the service answers it with the first)."""
    form = request.form
    key = form.get("key", "")
    try:
        body = AdjustmentIn().load({"delta": forms.optional_int(form.get("delta"), "delta"),
                                    "reason": form.get("reason", "")})
        result = adjustments.adjust(member_id, body["delta"], body["reason"], key or None)
    except (ApiError, SchemaError) as error:
        error = schema_error(error) if isinstance(error, SchemaError) else error
        return _member_page(member_id, 422, adjust_error=error, adjust_key=key or None,
                            adjust_form={"delta": form.get("delta", ""), "reason": form.get("reason", "")})
    return _member_page(member_id, adjusted=result)


@blp.post("/marketing/members/<int:member_id>/tags")
@session.requires(*MARKETING)
def member_tag(member_id: int):
    """Put a manual tag on, or take one off (`action=remove`)."""
    tag = request.form.get("tag", "")
    try:
        if request.form.get("action") == "remove":
            tags.remove_manual_tag(member_id, tag)
        else:
            tags.add_manual_tag(member_id, tag)
    except ApiError as error:
        return _member_page(member_id, 422, tag_error=error)
    return _member_page(member_id)


@blp.get("/marketing/members/<int:member_id>/ledger")
@session.requires(*MARKETING)
def member_ledger(member_id: int):
    """The member's whole points history, a page at a time (the detail shows the latest 20)."""
    cursor = request.args.get("cursor") or None
    try:
        page = history.admin_member_ledger(member_id, LIST_LIMIT, cursor)
    except ApiError as error:
        return render_template("console/error.html", message_code=error.code), error.status
    return render_template("console/ledger.html", area="members", member_id=member_id, page=page)


# --- tags ---------------------------------------------------------------------------------------------

def _tags_page(status: int = 200, **context):
    return render_template("console/tags.html", area="tags", tags=tags.tag_counts(), **context), status


@blp.get("/marketing/tags", endpoint="tags")
@session.requires(*MARKETING)
def tags_page():
    return _tags_page()


@blp.post("/marketing/tags/bulk")
@body_limit(tags.BULK_MAX_BYTES)
@session.requires(*MARKETING)
def tags_bulk():
    """Tag (or untag) the members a CSV names; the good rows apply, the others come back row by row."""
    try:
        body = BulkUpload().load({"tag": request.form.get("tag", ""), "action": request.form.get("action", "add"),
                                  "file": request.files.get("file")})
        report = tags.bulk_tag(body["tag"], body["file"].read(), body["action"])
    except (ApiError, SchemaError) as error:
        error = schema_error(error) if isinstance(error, SchemaError) else error
        return _tags_page(422, error=error)
    return _tags_page(report=report)


# --- audiences ----------------------------------------------------------------------------------------

def _numbers(values: list[str], field: str) -> list[int]:
    return [number for value in values if (number := forms.optional_int(value, field)) is not None]


def _audience_filter(form: MultiDict) -> dict:
    """The filter form (checkboxes and comma-separated tags) as the API's AudienceFilter body."""
    raw: dict = {"tiers": form.getlist("tiers"), "lifecycle": form.getlist("lifecycle"),
                 "rfm_segments": form.getlist("rfm_segments"),
                 "birthday_months": _numbers(form.getlist("birthday_months"), "birthday_months")}
    for name in ("tags", "tags_any"):
        raw[name] = [t.strip() for t in form.get(name, "").split(",") if t.strip()]
    for name in ("points_min", "points_max"):
        value = forms.optional_int(form.get(name), name)
        if value is not None:
            raw[name] = value
    return AudienceFilter().load({name: value for name, value in raw.items() if value != []})


def _audiences_page(status: int = 200, **context):
    context.setdefault("form", MultiDict())
    return render_template("console/audiences.html", area="audiences", ladder=ladder.ladder_copy(),
                           stage_names=STAGE_NAMES, segment_names=SEGMENT_NAMES,
                           audiences=audiences.listing(100, request.args.get("cursor") or None), **context), status


@blp.get("/marketing/audiences", endpoint="audiences")
@session.requires(*MARKETING)
def audiences_page():
    return _audiences_page()


@blp.post("/marketing/audiences")
@session.requires(*MARKETING)
def audience_create():
    form = request.form
    try:
        body = AudienceIn().load({"name": form.get("name", "").strip(),
                                  "description": form.get("description", "").strip() or None,
                                  "filter": _audience_filter(form)})
        created = audiences.create(body["name"], body["filter"], body.get("description"))
    except (ApiError, SchemaError) as error:
        error = schema_error(error) if isinstance(error, SchemaError) else error
        return _audiences_page(422, error=error, form=form)
    return _audiences_page(notice=f"已保存人群「{created['name']}」：{created['count']} 人")


@blp.post("/marketing/audiences/preview")
@session.requires(*MARKETING)
def audience_preview():
    """The live count as the filter form changes (htmx swaps this fragment in; nothing is saved)."""
    try:
        context = {"preview": audiences.preview(_audience_filter(request.form))}
    except (ApiError, SchemaError) as error:
        context = {"error": schema_error(error) if isinstance(error, SchemaError) else error}
    return render_template("console/_audience_count.html", **context)


def _audience_form(audience: dict) -> MultiDict:
    """A saved filter as the form's fields, to edit it."""
    spec = audience["filter"]
    pairs = [(name, str(value)) for name in ("tiers", "lifecycle", "rfm_segments", "birthday_months")
             for value in spec.get(name, [])]
    pairs += [(name, ", ".join(spec[name])) for name in ("tags", "tags_any") if spec.get(name)]
    pairs += [(name, str(spec[name])) for name in ("points_min", "points_max") if spec.get(name) is not None]
    return MultiDict([("name", audience["name"]), ("description", audience["description"] or ""), *pairs])


def _audience_page(audience_id: int, status: int = 200, **context):
    try:
        audience = audiences.with_count(audiences.get(audience_id))
    except ApiError as error:
        return render_template("console/error.html", message_code=error.code), error.status
    context.setdefault("form", _audience_form(audience))
    return render_template("console/audience.html", area="audiences", audience=audience, ladder=ladder.ladder_copy(),
                           stage_names=STAGE_NAMES, segment_names=SEGMENT_NAMES, **context), status


@blp.route("/marketing/audiences/<int:audience_id>", methods=["GET", "POST"])
@session.requires(*MARKETING)
def audience_detail(audience_id: int):
    """One audience with its live count; POST saves the edited name and filter. (One rule for both methods: with
    two, an id past the column range would be a 405 instead of the 404 every route gives.)"""
    if request.method == "GET":
        return _audience_page(audience_id)
    form = request.form
    try:
        changes = AudiencePatch().load({"name": form.get("name", "").strip(),
                                        "description": form.get("description", "").strip() or None,
                                        "filter": _audience_filter(form)})
        audiences.update(audience_id, changes)
    except (ApiError, SchemaError) as error:
        error = schema_error(error) if isinstance(error, SchemaError) else error
        return _audience_page(audience_id, 422, error=error, form=form)
    return _audience_page(audience_id, notice="已保存")


# --- KOC and super users ------------------------------------------------------------------------------

@blp.get("/marketing/koc")
@session.requires(*MARKETING)
def koc():
    """KOC candidates (invites that converted, posts) and super users (top 20% by 12-month spend)."""
    return render_template("console/koc.html", area="koc", koc=segments.koc_report(LIST_LIMIT),
                           super_users=segments.super_users_report(LIST_LIMIT), segment_names=SEGMENT_NAMES)


@blp.get("/marketing/koc.csv")
@session.requires(*MARKETING)
def koc_csv():
    return csv_export.response(summary.koc_csv(segments.koc_report(LIST_LIMIT)), "koc")


@blp.get("/marketing/super-users.csv")
@session.requires(*MARKETING)
def super_users_csv():
    return csv_export.response(summary.super_users_csv(segments.super_users_report(LIST_LIMIT)), "super-users")
