"""Program pages: the tier ladder, each tier's benefit table and member prices, and the tier and points
policies. Thin views over tiers.ladder, catalog.service and points.policy (the admin API's services);
the ladder's consistency rules live in tiers.ladder and come back here as errors next to their inputs."""
from __future__ import annotations

from flask import redirect, request, url_for
from werkzeug.datastructures import MultiDict

from catalog import service as catalog
from catalog.schemas import MemberPriceIn
from console import program_forms as forms
from console.blueprint import blp
from console.program import attempt, load, render, requires_program
from coupons import templates as coupon_templates
from points import policy as points_policy
from points.schemas import PolicyIn
from tiers import ladder
from tiers.schemas import TierIn, TierPatch, TierPolicyIn

PRODUCTS_SHOWN = 100
PACK_ROWS = 3  # blank monthly-pack rows offered for additions
DISPLAY_ROWS = 2


def _benefits(form: MultiDict) -> dict:
    """The benefit table as the form fills it (the API replaces it whole)."""
    pack = [{"coupon_template_id": forms.row_int(row, "template", "benefits.monthly_pack"),
             "count": forms.row_int(row, "count", "benefits.monthly_pack") if row.get("count") else 1}
            for row in forms.rows(form, "pack", ("template", "count")) if row.get("template")]
    display = [{"title": row["title"], "text": row.get("text", ""), "icon": row.get("icon", "")}
               for row in forms.rows(form, "display", ("title", "text", "icon"))]
    benefits: dict = {"points_multiplier_percent": forms.whole(form, "benefits.points_multiplier_percent"),
                      "free_shipping": forms.ticked(form, "benefits.free_shipping"),
                      "monthly_pack": pack, "display": display}
    gift_points = forms.whole(form, "benefits.birthday_gift.points")
    gift_templates = forms.ids(form, "benefits.birthday_gift.coupon_template_ids")
    if gift_points or gift_templates:
        benefits["birthday_gift"] = {"points": gift_points or 0, "coupon_template_ids": gift_templates,
                                     "when": forms.text(form, "benefits.birthday_gift.when") or "birthday"}
    return forms.given(benefits)


def _tier_body(form: MultiDict) -> dict:
    return forms.given({
        "code": forms.text(form, "code"), "name": forms.text(form, "name"), "rank": forms.whole(form, "rank"),
        "growth_threshold": forms.whole(form, "growth_threshold"),
        "retention_threshold": forms.whole(form, "retention_threshold"),
        "review_rule": forms.text(form, "review_rule"), "review_month_day": forms.text(form, "review_month_day"),
        "benefits": _benefits(form)})


def _template_choices() -> list[dict]:
    return coupon_templates.list_templates(100, None)["items"]


def _tiers_page(status: int = 200, **context):
    return render("console/program_tiers.html", status, tiers=ladder.ladder(), **context)


@blp.get("/program/tiers")
@requires_program
def program_tiers():
    return _tiers_page()


@blp.post("/program/tiers")
@requires_program
def program_tier_create():
    def body() -> dict:
        form = request.form
        return forms.given({"code": forms.text(form, "code"), "name": forms.text(form, "name"),
                            "rank": forms.whole(form, "rank"),
                            "growth_threshold": forms.whole(form, "growth_threshold"),
                            "retention_threshold": forms.whole(form, "retention_threshold") or 0,
                            "benefits": forms.given({"points_multiplier_percent":
                                                     forms.whole(form, "benefits.points_multiplier_percent")})})

    created, error = attempt(lambda: ladder.save_tier(None, load(TierIn, body())))
    if error:
        return _tiers_page(422, error=error, form=request.form)
    return redirect(url_for("console.program_tier", tier_id=created.id, saved=1))


def _tier_page(tier_id: int, status: int = 200, **context):
    tier = ladder.get_tier(tier_id)
    products = catalog.listing(True, None, PRODUCTS_SHOWN, None)["items"]
    return render("console/program_tier.html", status, tier=tier, products=products,
                  templates=_template_choices(), pack_rows=PACK_ROWS, display_rows=DISPLAY_ROWS,
                  saved=request.args.get("saved") == "1", **context)


@blp.route("/program/tiers/<int:tier_id>", methods=["GET", "POST"])  # one rule: a bad id is a 404 for both
@requires_program
def program_tier(tier_id: int):
    """The tier and its whole benefit table; refused, nothing changes and each error shows at its input."""
    if request.method == "GET":
        return _tier_page(tier_id)
    _, error = attempt(lambda: ladder.save_tier(tier_id, load(TierPatch, _tier_body(request.form))))
    if error:
        return _tier_page(tier_id, 422, error=error, form=request.form)
    return redirect(url_for("console.program_tier", tier_id=tier_id, saved=1))


@blp.post("/program/tiers/<int:tier_id>/prices/<string:sku>")
@requires_program
def program_tier_price(tier_id: int, sku: str):
    """This tier's member price of one product (empty: no member price); the product's other prices stay."""
    tier = ladder.get_tier(tier_id)

    def save():
        price = forms.fen(request.form, f"member_prices.{tier.code}")
        if price is not None:
            price = load(MemberPriceIn, {"price": price})["price"]
        return catalog.set_member_price(sku, tier.code, price)

    _, error = attempt(save)
    if error:
        return _tier_page(tier_id, 422, price_error=error, price_sku=sku)
    return _tier_page(tier_id, price_saved=sku)


# --- policies -------------------------------------------------------------------------------------------

def _policies_page(status: int = 200, **context):
    return render("console/program_policies.html", status, tier_policy=ladder.get_policy(),
                  points_policy=points_policy.get(), **context)


@blp.get("/program/policies")
@requires_program
def program_policies():
    return _policies_page()


@blp.post("/program/policies/tier")
@requires_program
def program_tier_policy():
    def body() -> dict:
        form = request.form
        return forms.given({"downgrade_mode": forms.text(form, "downgrade_mode"),
                            "refund_downgrade": forms.text(form, "refund_downgrade"),
                            "growth_per_yuan": forms.whole(form, "growth_per_yuan")})

    _, error = attempt(lambda: ladder.update_policy(load(TierPolicyIn, body())))
    if error:
        return _policies_page(422, tier_error=error)
    return _policies_page(notice="等级政策已保存。")


@blp.post("/program/policies/points")
@requires_program
def program_points_policy():
    def body() -> dict:
        form = request.form
        values = {name: forms.whole(form, name) for name in ("points_per_yuan", "expiry_months", "expiry_years",
                                                              "pending_days", "points_per_yuan_value",
                                                              "max_deduction_percent")}
        return forms.given(values | {"expiry_kind": forms.text(form, "expiry_kind")})

    _, error = attempt(lambda: points_policy.update(load(PolicyIn, body())))
    if error:
        return _policies_page(422, points_error=error)
    return _policies_page(notice="积分政策已保存。")
