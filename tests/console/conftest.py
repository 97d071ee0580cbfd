import threading

import pytest
from werkzeug.serving import make_server

from app.extensions import db
from members import member_code
from points import ledger
from tests.console.browser import ARGS, CHROMIUM, TABLET, release_database


@pytest.fixture
def shopper(client, program):
    """A new member (with the 新人礼 coupon) holding 1,000 more points: (member id, a fresh member code)."""
    body = client.post("/api/v1/auth/wechat-login", json={"code": "test-alice"}).get_json()
    member_id = body["member"]["id"]
    ledger.credit(member_id, 1000, kind="adjust", key="console-test", cause_type="test", note="test")
    db.session.commit()
    return member_id, member_code.issue(member_id).code


@pytest.fixture(scope="module")
def server(app):
    """The app on a loopback port in a thread of this process (the same database and frozen clock)."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright  # lazy: only the browser tests need it

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    release_database()
    context = browser.new_context(viewport=TABLET, base_url=server, locale="zh-CN")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()
