"""The program pages as marketing uses them, in headless Chromium against the app served by a thread (the
set-up of test_browser.py): a member price and a benefit reach the till's next quote; a coupon issued to a
tag fills its progress bar to 100 % while a worker runs the job; a benefit-table error shows at its input."""
from __future__ import annotations

import pytest
from rq import Queue, SimpleWorker

from app.extensions import db
from app.redis_store import get_redis
from catalog.models import Product
from coupons.models import Coupon, CouponTemplate
from marketing import tags
from members.models import Tier
from tests.console import test_browser
from tests.console.browser import TABLET, release_database, sign_in
from tests.coupons.helpers import members

pytestmark = test_browser.pytestmark
build_basket = test_browser.build_basket


def _read(query):
    """A read in a transaction of its own, ended at once (an open read holds SQLite's lock)."""
    db.session.remove()
    try:
        return query()
    finally:
        db.session.rollback()


@pytest.fixture
def tagged(program):
    """Three members tagged 咖啡重度, for a targeted issue."""
    ids = members(3)
    for member_id in ids:
        tags.add_manual_tag(member_id, "咖啡重度")
    return ids


def test_a_new_member_price_and_multiplier_reach_the_tills_next_quote(shopper, page, browser, server):
    member_id, code = shopper
    sign_in(page, "staff1")
    build_basket(page, code)
    latte = "#basket-lines tr[data-sku='LATTE'] td:nth-child(3)"
    assert page.inner_text(latte) == "¥32.00"  # 普通会员 has no member price yet
    earned_before = int(page.inner_text("#quote-earn"))

    marketing = browser.new_context(viewport=TABLET, base_url=server, locale="zh-CN").new_page()
    sign_in(marketing, "marketing")
    marketing.click("text=方案")
    marketing.click("#tiers tr[data-code='normal'] a")
    marketing.fill("#f-benefits-points_multiplier_percent", "110")
    marketing.click("#save-tier")
    marketing.wait_for_selector("#notice")
    marketing.fill("input[aria-label='LATTE 会员价']", "25")
    marketing.click("#member-prices tr[data-sku='LATTE'] button[type=submit]")
    marketing.wait_for_selector("#price-notice")
    marketing.context.close()

    page.fill("#product-search", "LATTE")  # one more latte: the basket asks for a new quote
    page.click(".product-hit[data-sku='LATTE']")
    page.wait_for_function(f"document.querySelector(\"{latte}\").textContent.trim() === '¥25.00'")
    assert int(page.inner_text("#quote-earn")) > earned_before
    normal = _read(lambda: Tier.query.filter_by(code="normal").one().benefits["points_multiplier_percent"])
    assert normal == 110
    assert _read(lambda: Product.query.filter_by(sku="LATTE").one().member_prices["normal"]) == 2500


def test_marketing_creates_a_template_issues_it_to_a_tag_and_watches_it_reach_100(tagged, page):
    sign_in(page, "marketing")
    page.goto("/console/program/coupons")
    page.fill("#f-title", "老客回馈 满30减5")
    page.fill("#f-code", "LOYAL5")
    page.fill("#f-amount_off", "5")
    page.fill("#f-threshold", "30")
    page.fill("#f-validity-days", "14")
    page.click("#create-template-button")
    page.wait_for_selector("#notice")
    page.select_option("#f-issue-tags", "咖啡重度")
    page.click("#issue-button")
    page.wait_for_selector("#issue-progress[data-state=queued]")
    assert page.get_attribute("#issue-progress", "hx-trigger") == "every 2s"

    release_database()
    SimpleWorker([Queue("grants", connection=get_redis())], connection=get_redis()).work(
        burst=True, with_scheduler=False)  # the worker picks the job up while the page polls
    release_database()

    page.wait_for_selector("#issue-progress[data-state=done]")
    assert page.inner_text("#issue-bar") == "100%"
    assert page.get_attribute("[role=progressbar]", "aria-valuenow") == "100"
    assert page.inner_text("#issue-issued") == "3" and page.inner_text("#issue-failed") == "0"
    template_id = _read(lambda: CouponTemplate.query.filter_by(code="LOYAL5").one().id)
    holders = _read(lambda: sorted(c.member_id for c in Coupon.query.filter_by(template_id=template_id)))
    assert holders == sorted(tagged)


def test_a_benefit_table_error_is_shown_at_its_input_and_nothing_changes(program, page):
    before = _read(lambda: dict(Tier.query.filter_by(code="silver").one().benefits))
    sign_in(page, "marketing")
    page.goto("/console/program/tiers")
    page.click("#tiers tr[data-code='silver'] a")
    page.fill("#f-benefits-points_multiplier_percent", "200")  # above 尊享会员's 150 %
    page.click("#save-tier")
    error = page.wait_for_selector("[data-error-for='benefits.points_multiplier_percent']")
    assert "积分倍率不能低于" in error.inner_text()
    assert "is-invalid" in page.get_attribute("#f-benefits-points_multiplier_percent", "class")
    assert page.input_value("#f-benefits-points_multiplier_percent") == "200"  # kept to correct
    assert _read(lambda: dict(Tier.query.filter_by(code="silver").one().benefits)) == before


def test_a_clerk_gets_403_on_the_program_pages(program, page):
    sign_in(page, "staff1")
    assert "方案" not in page.inner_text("nav")
    for path in ("/console/program/tiers", "/console/program/coupons", "/console/program/earn-rules"):
        assert page.goto(path).status == 403
