"""The console as people use it: real pages in a real headless Chromium (Debian's `chromium`, driven by
Playwright), against the app served by a werkzeug server thread on the test database. Skipped, saying so,
only where no chromium is installed."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.extensions import db
from app.operators import service as operators
from app.operators.models import Operator
from tests.console.browser import CHROMIUM, release_database, sign_in
from till.models import Purchase

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH: apt-get install chromium")]


def build_basket(page, code: str) -> None:
    """Scan as a scanner gun does (digits, then Enter), then add a tumbler and a latte by searching."""
    page.fill("#member-code-input", code)
    page.press("#member-code-input", "Enter")
    page.wait_for_selector("#member-name")
    for query, sku in (("随行杯", "TUMBLER"), ("LATTE", "LATTE")):
        page.fill("#product-search", query)
        page.click(f".product-hit[data-sku='{sku}']")
        page.wait_for_selector(f"#basket-lines tr[data-sku='{sku}']")
    page.wait_for_selector("#quote-payable")


def purchases() -> int:
    """Counted in a transaction of its own, ended at once: an open read would hold SQLite's lock against
    the server thread's next write."""
    db.session.remove()
    try:
        return db.session.query(Purchase).count()
    finally:
        db.session.rollback()


def test_a_clerk_sells_with_a_coupon_and_points_then_refunds_one_line(shopper, page, tmp_path):
    member_id, code = shopper
    sign_in(page, "staff1")
    assert "旗舰店" in page.inner_text("#whoami")
    build_basket(page, code)
    assert page.is_checked("input[name=coupon_id]")  # the 新人礼 coupon is suggested
    assert "-¥20.00" in page.inner_text("#quote-coupon")
    page.click("#use-all-points")
    page.wait_for_function("document.querySelector('#quote-payable').textContent.trim() !== '¥140.00'")
    payable = page.inner_text("#quote-payable")
    # The README's picture: `CONSOLE_SCREENSHOT_DIR=docs/screenshots make test` refreshes it; a plain run leaves
    # the checkout as it was.
    shots = Path(os.environ["CONSOLE_SCREENSHOT_DIR"]) if os.environ.get("CONSOLE_SCREENSHOT_DIR") else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "till.png"), full_page=True)
    page.click("#confirm-button")
    page.wait_for_selector("#receipt")
    assert page.inner_text("#receipt-paid") == payable
    assert int(page.inner_text("#receipt-earned").split("（")[0]) > 0
    assert purchases() == 1

    page.fill("input[aria-label='退货数量 LATTE']", "1")
    page.click("#refund-lines-form button[type=submit]")
    page.wait_for_selector("#refund-result")
    assert "LATTE×1" in page.inner_text("#refund-result")
    assert page.inner_text("#order-lines tr[data-sku='LATTE'] td:nth-child(4)") == "1"


def test_a_double_click_on_confirm_records_one_purchase(shopper, page):
    member_id, code = shopper
    sign_in(page, "staff1")
    build_basket(page, code)
    page.dblclick("#confirm-button")
    page.wait_for_selector("#receipt")
    assert purchases() == 1


def test_the_till_fits_a_phone_width_handheld(browser, server, shopper):
    release_database()
    context = browser.new_context(viewport={"width": 360, "height": 740}, base_url=server)
    phone = context.new_page()
    sign_in(phone, "staff1")
    build_basket(phone, shopper[1])
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    context.close()


def test_an_admin_creates_a_clerk_who_signs_in_to_their_own_stores_till_only(program, page):
    sign_in(page, "admin")
    page.fill("#new-username", "clerk9")
    page.fill("#new-password", "password123")
    page.select_option("#new-role", "staff")
    page.select_option("#new-store", "S2")
    page.click("#create-operator button[type=submit]")
    page.wait_for_selector("text=已创建 clerk9")
    page.click("text=退出")
    sign_in(page, "clerk9", "password123")
    assert page.url.endswith("/console/till")
    assert "社区店" in page.inner_text("#whoami")
    assert page.goto("/console/admin/operators").status == 403
    assert page.goto("/console/marketing").status == 403


def test_a_deactivated_clerks_session_stops_working(program, page):
    sign_in(page, "staff1")
    assert page.url.endswith("/console/till")
    operators.update_operator(Operator.query.filter_by(username="staff1").one().id, {"active": False})
    release_database()
    page.goto("/console/till")
    assert "/console/login" in page.url


def test_a_form_posted_without_its_csrf_token_changes_nothing(program, page):
    sign_in(page, "admin")
    before = Operator.query.count()
    db.session.rollback()
    page.fill("#new-username", "sneaky")
    page.fill("#new-password", "password123")
    page.select_option("#new-store", "S1")
    page.evaluate("document.querySelector('#create-operator input[name=csrf_token]').remove()")
    page.click("#create-operator button[type=submit]")
    page.wait_for_selector("[data-code=csrf]")
    db.session.remove()
    assert Operator.query.count() == before
