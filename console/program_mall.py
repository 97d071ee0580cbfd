"""Program pages: the points mall's items and their stock, and the paid-VIP plans. Thin views over
mall.service and vip.service, the admin API's services."""
from __future__ import annotations

from flask import redirect, request, url_for
from werkzeug.datastructures import MultiDict

from console import program_forms as forms
from console.blueprint import blp
from console.program import attempt, load, render, requires_program
from coupons import templates as coupon_templates
from mall import service as mall
from mall.models import ITEM_KINDS, LIMIT_PERIODS
from mall.schemas import CatalogItemIn, CatalogItemPatch, StockIn
from tiers import ladder
from vip import service as vip
from vip.schemas import VipPlanIn, VipPlanPatch

ITEMS_SHOWN = 100


# --- the points mall ------------------------------------------------------------------------------------

def _item_body(form: MultiDict) -> dict:
    """Every input of the item form; `stock` is only on the create form (an item's stock then changes by
    adjustment, see program_mall_stock)."""
    kind = forms.text(form, "kind")
    return {"name": forms.text(form, "name"), "description": forms.text(form, "description"),
            "kind": kind, "points_price": forms.whole(form, "points_price"), "cash_price": forms.fen(form, "cash_price")
            or 0, "stock": forms.whole(form, "stock"), "per_member_limit": forms.whole(form, "per_member_limit"),
            "limit_period": forms.text(form, "limit_period") or "ever", "tiers": forms.words(form, "tiers"),
            "coupon_template_id": forms.whole(form, "coupon_template_id") if kind == "coupon" else None,
            "active": forms.ticked(form, "active"), "display_order": forms.whole(form, "display_order") or 0}


def _mall_page(status: int = 200, **context):
    return render("console/program_mall.html", status, items=mall.list_items(ITEMS_SHOWN, None)["items"],
                  kinds=ITEM_KINDS, periods=LIMIT_PERIODS, tiers=ladder.ladder(),
                  templates=coupon_templates.list_templates(100, None)["items"], **context)


@blp.get("/program/mall")
@requires_program
def program_mall():
    return _mall_page()


@blp.post("/program/mall")
@requires_program
def program_mall_create():
    created, error = attempt(lambda: mall.create_item(load(CatalogItemIn, forms.given(
        {"code": forms.text(request.form, "code"), **_item_body(request.form)}))))
    if error:
        return _mall_page(422, error=error, form=request.form)
    return redirect(url_for("console.program_mall_item", item_id=created.id, saved=1))


def _item_page(item_id: int, status: int = 200, **context):
    return render("console/program_mall_item.html", status, item=mall.get_item(item_id), kinds=ITEM_KINDS,
                  periods=LIMIT_PERIODS, tiers=ladder.ladder(),
                  templates=coupon_templates.list_templates(100, None)["items"],
                  saved=request.args.get("saved") == "1", **context)


@blp.route("/program/mall/<int:item_id>", methods=["GET", "POST"])
@requires_program
def program_mall_item(item_id: int):
    """The item and its stock, row-locked by the service against a redemption taking stock at the same time."""
    if request.method == "GET":
        return _item_page(item_id)
    _, error = attempt(lambda: mall.update_item(item_id, load(CatalogItemPatch, {
        name: value for name, value in _item_body(request.form).items() if name != "stock"})))
    if error:
        return _item_page(item_id, 422, error=error, form=request.form)
    return redirect(url_for("console.program_mall_item", item_id=item_id, saved=1))


@blp.post("/program/mall/<int:item_id>/stock")
@requires_program
def program_mall_stock(item_id: int):
    """Restock or write off by a count: relative to the stock at that moment, so what members redeemed
    since the page rendered is kept (a typed absolute stock would erase it)."""
    changed, error = attempt(lambda: mall.adjust_stock(item_id, load(StockIn, {
        "delta": forms.whole(request.form, "delta")})["delta"]))
    if error:
        return _item_page(item_id, 422, stock_error=error)
    return _item_page(item_id, stock_notice=f"库存已调整，现为 {changed.stock}。")


# --- paid VIP -------------------------------------------------------------------------------------------

def _plan_body(form: MultiDict, stored: dict | None) -> dict:
    """The plan's own fields and the benefits the form shows; the monthly pack, VIP day and display list
    are kept as stored (the API replaces the benefit table whole)."""
    benefits = dict(stored or {})
    benefits["points_multiplier_percent"] = forms.whole(form, "benefits.points_multiplier_percent")
    return {"name": forms.text(form, "name"), "price": forms.fen(form, "price"),
            "duration_days": forms.whole(form, "duration_days"), "active": forms.ticked(form, "active"),
            "benefits": forms.given(benefits)}


def _vip_page(status: int = 200, **context):
    return render("console/program_vip.html", status, plans=vip.list_plans(active_only=False), **context)


@blp.get("/program/vip")
@requires_program
def program_vip():
    return _vip_page()


@blp.post("/program/vip")
@requires_program
def program_vip_create():
    _, error = attempt(lambda: vip.save_plan(None, load(VipPlanIn, forms.given(
        {"code": forms.text(request.form, "code"), **_plan_body(request.form, None)}))))
    if error:
        return _vip_page(422, error=error, form=request.form)
    return _vip_page(notice="付费会员方案已创建。")


@blp.post("/program/vip/<int:plan_id>")
@requires_program
def program_vip_save(plan_id: int):
    plan = vip.get_plan(plan_id)
    _, error = attempt(lambda: vip.save_plan(plan_id, load(VipPlanPatch, _plan_body(request.form, plan.benefits))))
    if error:
        return _vip_page(422, error=error, error_plan=plan_id, form=request.form)
    return _vip_page(notice=f"已保存「{plan.name}」。")
