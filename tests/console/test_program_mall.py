"""Program pages for the points mall (items and stock) and the paid-VIP plans, and who may open the program."""
from __future__ import annotations

import pytest

from app.audit.models import AuditLog
from mall.models import CatalogItem
from tests.console.helpers import count, post, sign_in
from vip.models import VipPlan

MALL = "/console/program/mall"
VIP = "/console/program/vip"


def _item(code: str) -> CatalogItem:
    return CatalogItem.query.filter_by(code=code).one()


def _item_form(item: CatalogItem, **changes) -> dict:
    form = {"name": item.name, "kind": item.kind, "points_price": str(item.points_price),
            "cash_price": f"{item.cash_price / 100:.2f}", "limit_period": item.limit_period,
            "per_member_limit": str(item.per_member_limit or ""), "display_order": str(item.display_order)}
    if item.active:
        form["active"] = "1"
    if item.coupon_template_id:
        form["coupon_template_id"] = str(item.coupon_template_id)
    return {**form, **changes}


def test_marketing_edits_an_item_and_takes_it_off_sale_without_touching_its_stock(client, program):
    sign_in(client, "marketing")
    assert "品牌帆布袋" in client.get(MALL).get_data(as_text=True)
    tote = _item("tote-bag")
    page = f"{MALL}/{tote.id}"
    response = post(client, page, _item_form(tote, name="帆布袋（新款）", active="", stock="999"), page=MALL)
    assert response.status_code == 302
    edited = _item("tote-bag")
    assert (edited.name, edited.active, edited.stock) == ("帆布袋（新款）", False, tote.stock)
    assert AuditLog.query.filter_by(action="catalog.update").count() == 1


def test_stock_is_adjusted_by_a_count_from_what_it_is_now(client, program):
    sign_in(client, "marketing")
    tote = _item("tote-bag")
    page, shown = f"{MALL}/{tote.id}", tote.stock
    html = client.get(page).get_data(as_text=True)
    assert f'<b id="item-stock">{shown}</b>' in html
    CatalogItem.query.filter_by(code="tote-bag").update({"stock": shown - 3})  # redeemed since it rendered
    restocked = post(client, f"{page}/stock", {"delta": "20"}, page=MALL)
    assert restocked.status_code == 200 and f"现为 {shown + 17}" in restocked.get_data(as_text=True)
    assert _item("tote-bag").stock == shown + 17
    for delta, code in (("-100000", "out_of_stock"), ("0", "validation_error"), ("x", "bad_quantity"),
                        ("", "validation_error")):
        refused = post(client, f"{page}/stock", {"delta": delta}, page=MALL)
        assert refused.status_code == 422 and f'data-code="{code}"' in refused.get_data(as_text=True), delta
    assert _item("tote-bag").stock == shown + 17


def test_mall_refusals_are_shown_at_their_input_and_change_nothing(client, program):
    sign_in(client, "marketing")
    mug = _item("mug")
    page = f"{MALL}/{mug.id}"
    for changes, field in (({"points_price": "0"}, "points_price"), ({"points_price": "lots"}, "points_price"),
                           ({"cash_price": "-3"}, "cash_price"), ({"kind": "coupon"}, "coupon_template_id"),
                           ({"tiers": "platinum"}, "tiers"), ({"per_member_limit": "0"}, "per_member_limit")):
        response = post(client, page, _item_form(mug, **changes), page=MALL)
        assert response.status_code == 422, changes
        assert f'data-error-for="{field}"' in response.get_data(as_text=True), changes
    assert _item("mug").points_price == mug.points_price


def test_a_mall_item_is_created_and_a_taken_code_refused(client, program):
    sign_in(client, "marketing")
    form = {"code": "umbrella", "name": "品牌雨伞", "kind": "pickup", "points_price": "1500", "stock": "20",
            "active": "1"}
    assert post(client, MALL, form, page=MALL).status_code == 302
    assert _item("umbrella").points_price == 1500
    again = post(client, MALL, form, page=MALL)
    assert again.status_code == 422 and "该编码已被使用" in again.get_data(as_text=True)


def test_vip_plans_are_edited_in_yuan_and_checked(client, program):
    sign_in(client, "marketing")
    annual = VipPlan.query.filter_by(code="annual").one()
    assert "年卡VIP" in client.get(VIP).get_data(as_text=True)
    form = {"name": "年卡VIP", "price": "259.00", "duration_days": "365", "active": "1",
            "benefits.points_multiplier_percent": "150"}
    saved = post(client, f"{VIP}/{annual.id}", form, page=VIP)
    assert saved.status_code == 200 and "已保存" in saved.get_data(as_text=True)
    annual = VipPlan.query.filter_by(code="annual").one()
    assert annual.price == 25900 and annual.benefits["monthly_pack"]  # the pack, not on the form, is kept
    low = post(client, f"{VIP}/{annual.id}", {**form, "benefits.points_multiplier_percent": "50"}, page=VIP)
    assert low.status_code == 422 and 'data-error-for="benefits.points_multiplier_percent"' in low.get_data(
        as_text=True)
    free = post(client, f"{VIP}/{annual.id}", {**form, "price": "0"}, page=VIP)
    assert free.status_code == 422 and 'data-error-for="price"' in free.get_data(as_text=True)
    assert VipPlan.query.filter_by(code="annual").one().price == 25900
    created = post(client, VIP, {**form, "code": "month", "name": "月卡", "price": "19.9", "duration_days": "31"},
                   page=VIP)
    assert created.status_code == 200 and VipPlan.query.filter_by(code="month").one().price == 1990
    taken = post(client, VIP, {**form, "code": "month", "name": "月卡"}, page=VIP)
    assert taken.status_code == 422 and "该方案编码已被使用" in taken.get_data(as_text=True)


PROGRAM_PAGES = ["/console/program", "/console/program/tiers", "/console/program/tiers/{tier}",
                 "/console/program/policies", "/console/program/earn-rules", "/console/program/earn-rules/{rule}",
                 "/console/program/tasks", "/console/program/tasks/{task}", "/console/program/coupons",
                 "/console/program/coupons/{template}", "/console/program/mall", "/console/program/mall/{item}",
                 "/console/program/vip"]
PROGRAM_POSTS = ["/console/program/tiers", "/console/program/tiers/{tier}",
                 "/console/program/tiers/{tier}/prices/LATTE",
                 "/console/program/policies/tier", "/console/program/policies/points", "/console/program/earn-rules",
                 "/console/program/earn-rules/{rule}", "/console/program/tasks", "/console/program/tasks/{task}",
                 "/console/program/coupons", "/console/program/coupons/{template}",
                 "/console/program/coupons/{template}/active", "/console/program/coupons/{template}/issue",
                 "/console/program/mall", "/console/program/mall/{item}", "/console/program/mall/{item}/stock",
                 "/console/program/vip", "/console/program/vip/{plan}"]


def _ids() -> dict:
    from coupons.models import CouponTemplate
    from members.models import Tier
    from tasks.models import TaskDefinition
    from till.models import EarnRule

    return {"tier": Tier.query.first().id, "rule": EarnRule.query.first().id, "task": TaskDefinition.query.first().id,
            "template": CouponTemplate.query.first().id, "item": CatalogItem.query.first().id,
            "plan": VipPlan.query.first().id}


@pytest.mark.parametrize("username", ["staff1", "manager1"])
def test_store_roles_get_403_on_every_program_page_and_form(client, program, username):
    sign_in(client, username)
    ids = _ids()
    audited = count(AuditLog)
    for path in PROGRAM_PAGES:
        assert client.get(path.format(**ids)).status_code == 403, path
    for path in PROGRAM_POSTS:
        assert post(client, path.format(**ids), {"name": "x", "stock": "1"}).status_code == 403, path
    assert count(AuditLog) == audited
    assert "方案" not in client.get("/console/till").get_data(as_text=True)


@pytest.mark.parametrize("username", ["marketing", "admin"])
def test_marketing_and_admin_open_every_program_page(client, program, username):
    sign_in(client, username)
    ids = _ids()
    for path in PROGRAM_PAGES:
        response = client.get(path.format(**ids))
        assert response.status_code in (200, 302), path
    assert 'href="/console/program"' in client.get("/console/program/tiers").get_data(as_text=True)


def test_signed_out_program_pages_go_to_sign_in(client, program):
    assert client.get("/console/program/tiers").headers["Location"].startswith("/console/login")
    response = client.get("/console/program/coupons/1/issues/1/progress", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"] == "/console/login"
