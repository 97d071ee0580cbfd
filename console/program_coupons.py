"""Program pages: coupon templates (create, edit what may still change, stop and restart) and targeted issues
to a tag, tier or saved audience, with a progress bar htmx polls until the RQ job is done or has failed.
Thin views over coupons.templates and marketing.issues, the admin API's services."""
from __future__ import annotations

import uuid

from flask import g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from console import program_forms as forms
from console.blueprint import blp
from console.program import attempt, load, render, requires_program
from coupons import templates
from coupons.schemas import IssueIn, TemplateIn, TemplatePatch
from marketing import audiences, issues, tags
from tiers import ladder

TEMPLATES_SHOWN = 100
ISSUES_SHOWN = 10
AUDIENCES_SHOWN = 100
POLL_SECONDS = 2  # one COUNT per poll: bench/issue_progress.py


def _template_body(form: MultiDict, frozen: bool) -> dict:
    """The template form as the API's body. Terms (kind, amounts, threshold, scope, validity, stacking) are
    left out once coupons exist: the page shows them read-only and the service would refuse a change."""
    body: dict = {
        "title": forms.text(form, "title"), "description": forms.text(form, "description"),
        "stock": forms.whole(form, "stock"), "per_member_limit": forms.whole(form, "per_member_limit"),
        "claimable": forms.ticked(form, "claimable"),
        "audience": {"tiers": forms.words(form, "audience.tiers"), "tags": forms.words(form, "audience.tags"),
                     "new_members_only": forms.ticked(form, "audience.new_members_only")},
    }
    if frozen:
        return body
    kind = forms.text(form, "kind")
    scope_kind = forms.text(form, "scope.kind") or "all"
    validity_kind = forms.text(form, "validity.kind")
    body |= {
        "kind": kind, "threshold": forms.fen(form, "threshold") or 0, "stackable": forms.ticked(form, "stackable"),
        "amount_off": forms.fen(form, "amount_off") if kind == "amount_off" else None,
        "percent": forms.whole(form, "percent") if kind == "percent_off" else None,
        "max_discount": forms.fen(form, "max_discount") if kind == "percent_off" else None,
        "gift_sku": forms.text(form, "gift_sku") if kind == "gift" else None,
        "scope": {"kind": scope_kind, "values": forms.words(form, "scope.values") if scope_kind != "all" else [],
                  "exclude": forms.ticked(form, "scope.exclude") and scope_kind != "all"},
        "validity": ({"kind": "fixed", "start": forms.text(form, "validity.start"),
                      "end": forms.text(form, "validity.end")} if validity_kind == "fixed"
                     else {"kind": validity_kind, "days": forms.whole(form, "validity.days")}),
    }
    return body


def _templates_page(status: int = 200, **context):
    return render("console/program_coupons.html", status, templates=templates.list_templates(TEMPLATES_SHOWN, None)
                  ["items"], tiers=ladder.ladder(), **context)


@blp.get("/program/coupons")
@requires_program
def program_coupons():
    return _templates_page()


@blp.post("/program/coupons")
@requires_program
def program_coupon_create():
    created, error = attempt(lambda: templates.create_template(load(TemplateIn, forms.given(
        {"code": forms.text(request.form, "code"), **_template_body(request.form, frozen=False)}))))
    if error:
        return _templates_page(422, error=error, form=request.form)
    return redirect(url_for("console.program_coupon", template_id=created.id, saved=1))


def _template_page(template_id: int, status: int = 200, **context):
    template = templates.template_out(templates.get_template(template_id))
    return render("console/program_coupon.html", status, template=template, tiers=ladder.ladder(),
                  tags=tags.tag_counts(), audiences=audiences.listing(AUDIENCES_SHOWN, None)["items"],
                  issues=issues.list_issues(template_id, ISSUES_SHOWN, None)["items"], issue_key=uuid.uuid4().hex,
                  saved=request.args.get("saved") == "1", **context)


@blp.route("/program/coupons/<int:template_id>", methods=["GET", "POST"])
@requires_program
def program_coupon(template_id: int):
    if request.method == "GET":
        return _template_page(template_id)
    frozen = templates.get_template(template_id).issued_count > 0
    _, error = attempt(lambda: templates.update_template(template_id,
                                                         load(TemplatePatch, _template_body(request.form, frozen))))
    if error:
        return _template_page(template_id, 422, error=error, form=request.form)
    return redirect(url_for("console.program_coupon", template_id=template_id, saved=1))


@blp.post("/program/coupons/<int:template_id>/active")
@requires_program
def program_coupon_active(template_id: int):
    """Stop (停用) or restart a template: stopped, no claims, grants or issues; coupons held stay usable."""
    active = forms.ticked(request.form, "active")
    _, error = attempt(lambda: templates.update_template(template_id, load(TemplatePatch, {"active": active})))
    if error:
        return _template_page(template_id, 422, error=error)
    return redirect(url_for("console.program_coupon", template_id=template_id, saved=1))


# --- targeted issues ------------------------------------------------------------------------------------

def _audience(form: MultiDict) -> dict:
    """A saved audience, tags, tiers: as chosen (the service refuses an empty audience, or a saved one mixed
    with other criteria)."""
    return forms.given({"audience_id": forms.whole(form, "audience.audience_id"),
                        "tags": forms.words(form, "audience.tags") or None,
                        "tiers": forms.words(form, "audience.tiers") or None})


@blp.post("/program/coupons/<int:template_id>/issue")
@requires_program
def program_coupon_issue(template_id: int):
    """Queue the issue (the form's key, fixed at render, makes a second click the same issue) and open its
    progress page."""
    def issue():
        body = load(IssueIn, {"audience": _audience(request.form), "key": forms.text(request.form, "key")})
        return issues.request_issue(template_id, body["audience"], body.get("key"), g.operator.id)

    created, error = attempt(issue)
    if error:
        return _template_page(template_id, 422, issue_error=error, form=request.form)
    return redirect(url_for("console.program_coupon_issue_page", template_id=template_id, issue_id=created.id))


@blp.get("/program/coupons/<int:template_id>/issues/<int:issue_id>")
@requires_program
def program_coupon_issue_page(template_id: int, issue_id: int):
    template = templates.template_out(templates.get_template(template_id))
    progress = issues.progress(issues.get_issue(template_id, issue_id))
    return render("console/program_issue.html", template=template, issue=progress, poll_seconds=POLL_SECONDS)


@blp.get("/program/coupons/<int:template_id>/issues/<int:issue_id>/progress")
@requires_program
def program_coupon_issue_progress(template_id: int, issue_id: int):
    """The bar alone, for htmx: it carries its own polling until the issue is done or has failed."""
    progress = issues.progress(issues.get_issue(template_id, issue_id))
    return render_template("console/_issue_progress.html", template_id=template_id, issue=progress,
                           poll_seconds=POLL_SECONDS)
