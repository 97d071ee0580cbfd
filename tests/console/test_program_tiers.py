"""Program pages for the tier ladder, the member prices and the policies: each saves through the same service
as the admin API, and a refusal is shown next to its input with nothing changed."""
from __future__ import annotations

from app.audit.models import AuditLog
from catalog.models import Product
from members.models import Tier
from points import policy as points_policy
from tests.console.helpers import count, post, sign_in
from tiers import ladder


def _tier(code: str) -> Tier:
    return Tier.query.filter_by(code=code).one()


def _tier_form(tier: Tier, **changes) -> list[tuple[str, str]]:
    """The edit form as the page sends it, with `changes` typed over."""
    b = tier.benefits
    fields = {"name": tier.name, "rank": str(tier.rank), "growth_threshold": str(tier.growth_threshold),
              "retention_threshold": str(tier.retention_threshold), "review_rule": tier.review_rule,
              "benefits.points_multiplier_percent": str(b.get("points_multiplier_percent", 100))}
    fields.update(changes)
    return list(fields.items()) + [("benefits.free_shipping", "1")] * bool(b.get("free_shipping")) + [
        ("pack.template", str(p["coupon_template_id"])) for p in b.get("monthly_pack", [])] + [
        ("pack.count", str(p["count"])) for p in b.get("monthly_pack", [])]


def test_the_ladder_page_lists_each_tier_and_its_benefits(client, program):
    sign_in(client, "marketing")
    page = client.get("/console/program/tiers").get_data(as_text=True)
    assert "尊享会员" in page and "1.50×" in page and "方案" in page
    assert client.get("/console/program").headers["Location"].endswith("/console/program/tiers")


def test_marketing_edits_a_benefit_table_and_the_change_is_audited(client, program):
    sign_in(client, "marketing")
    gold = _tier("gold")
    response = post(client, f"/console/program/tiers/{gold.id}",
                    _tier_form(gold, **{"benefits.points_multiplier_percent": "200"}), page="/console/program/tiers")
    assert response.status_code == 302
    assert _tier("gold").benefits["points_multiplier_percent"] == 200
    assert _tier("gold").benefits["monthly_pack"] == gold.benefits["monthly_pack"]  # the rest of the table stays
    assert AuditLog.query.filter_by(action="tier.update").count() == 1  # the demo seeds unaudited
    assert "已保存" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_higher_tier_earning_fewer_points_is_refused_inline_and_nothing_changes(client, program):
    sign_in(client, "marketing")
    silver = _tier("silver")
    before, audited = dict(silver.benefits), count(AuditLog)
    response = post(client, f"/console/program/tiers/{silver.id}",
                    _tier_form(silver, **{"benefits.points_multiplier_percent": "90"}), page="/console/program/tiers")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-error-for="benefits.points_multiplier_percent"' in page  # shown at the input it names
    response = post(client, f"/console/program/tiers/{silver.id}",
                    _tier_form(silver, **{"benefits.points_multiplier_percent": "160"}), page="/console/program/tiers")
    assert response.status_code == 422 and "高一级的等级" in response.get_data(as_text=True)
    assert _tier("silver").benefits == before and count(AuditLog) == audited


def test_thresholds_out_of_order_are_shown_at_the_threshold(client, program):
    sign_in(client, "marketing")
    silver = _tier("silver")
    response = post(client, f"/console/program/tiers/{silver.id}", _tier_form(silver, growth_threshold="6000"),
                    page="/console/program/tiers")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'data-error-for="growth_threshold"' in page
    assert 'value="6000"' in page  # what was typed stays on the page to correct
    assert _tier("silver").growth_threshold == 1000


def test_a_monthly_pack_naming_no_template_is_refused_at_the_pack(client, program):
    sign_in(client, "marketing")
    gold = _tier("gold")
    form = _tier_form(gold) + [("pack.template", "999999"), ("pack.count", "1")]
    response = post(client, f"/console/program/tiers/{gold.id}", form, page="/console/program/tiers")
    assert response.status_code == 422
    assert 'data-error-for="benefits.monthly_pack"' in response.get_data(as_text=True)
    assert _tier("gold").benefits == gold.benefits


def test_creating_a_tier_checks_the_ladder(client, program):
    sign_in(client, "marketing")
    taken = post(client, "/console/program/tiers", {"code": "black", "name": "黑卡", "rank": "1",
                                                    "growth_threshold": "90000"}, page="/console/program/tiers")
    assert taken.status_code == 422 and 'data-error-for="rank"' in taken.get_data(as_text=True)
    form = {"code": "black", "name": "黑卡", "rank": "9", "growth_threshold": "90000", "retention_threshold": "5000"}
    fewer = post(client, "/console/program/tiers", form, page="/console/program/tiers")  # 100 % under gold's 150 %
    assert fewer.status_code == 422 and 'data-error-for="benefits.points_multiplier_percent"' in fewer.get_data(
        as_text=True)
    created = post(client, "/console/program/tiers", {**form, "benefits.points_multiplier_percent": "200"},
                   page="/console/program/tiers")
    assert created.status_code == 302 and _tier("black").benefits["points_multiplier_percent"] == 200


def test_a_member_price_is_set_and_cleared_for_one_tier_only(client, program):
    sign_in(client, "marketing")
    gold = _tier("gold")
    latte = Product.query.filter_by(sku="LATTE").one()
    others = {k: v for k, v in latte.member_prices.items() if k != "gold"}
    page = f"/console/program/tiers/{gold.id}"
    response = post(client, f"{page}/prices/LATTE", {"member_prices.gold": "18.50"}, page=page)
    assert response.status_code == 200 and "LATTE 的会员价已保存" in response.get_data(as_text=True)
    latte = Product.query.filter_by(sku="LATTE").one()
    assert latte.member_prices == {**others, "gold": 1850}
    too_high = post(client, f"{page}/prices/LATTE", {"member_prices.gold": "999"}, page=page)
    assert too_high.status_code == 422 and 'id="price-error"' in too_high.get_data(as_text=True)
    assert post(client, f"{page}/prices/LATTE", {"member_prices.gold": "abc"}, page=page).status_code == 422
    assert Product.query.filter_by(sku="LATTE").one().member_prices["gold"] == 1850
    assert post(client, f"{page}/prices/LATTE", {"member_prices.gold": ""}, page=page).status_code == 200
    assert "gold" not in Product.query.filter_by(sku="LATTE").one().member_prices
    assert post(client, f"{page}/prices/NOPE", {"member_prices.gold": "1"}, page=page).status_code == 422


def test_the_policies_save_through_their_services(client, program):
    sign_in(client, "marketing")
    page = "/console/program/policies"
    assert "等级政策" in client.get(page).get_data(as_text=True)
    saved = post(client, "/console/program/policies/tier", {"downgrade_mode": "to_supported",
                                                           "refund_downgrade": "immediate", "growth_per_yuan": "2"},
                 page=page)
    assert saved.status_code == 200 and ladder.get_policy().growth_per_yuan == 2
    bad = post(client, "/console/program/policies/tier", {"downgrade_mode": "one_step",
                                                         "refund_downgrade": "immediate", "growth_per_yuan": "-1"},
               page=page)
    assert bad.status_code == 422 and 'data-error-for="growth_per_yuan"' in bad.get_data(as_text=True)
    assert ladder.get_policy().downgrade_mode == "to_supported"
    policy = points_policy.get()
    body = {name: str(policy[name]) for name in ("points_per_yuan", "expiry_months", "expiry_years", "pending_days",
                                                  "points_per_yuan_value", "max_deduction_percent")}
    ok = post(client, "/console/program/policies/points", {**body, "expiry_kind": "never", "points_per_yuan": "3"},
              page=page)
    assert ok.status_code == 200 and points_policy.get()["points_per_yuan"] == 3
    huge = post(client, "/console/program/policies/points", {**body, "expiry_kind": "never",
                                                            "max_deduction_percent": "101"}, page=page)
    assert huge.status_code == 422 and 'data-error-for="max_deduction_percent"' in huge.get_data(as_text=True)
    assert points_policy.get()["max_deduction_percent"] == policy["max_deduction_percent"]
