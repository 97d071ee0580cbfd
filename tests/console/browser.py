"""What the browser tests share: Debian's chromium, and signing in through the real form. The fixtures that
serve the app and drive the browser are in conftest.py."""
from __future__ import annotations

import shutil

from app.extensions import db

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
TABLET = {"width": 1024, "height": 768}


def release_database() -> None:
    """End the test thread's transaction (the fixtures' seeding may leave one open): on SQLite it would hold
    the lock the server thread needs."""
    db.session.commit()
    db.session.remove()


def sign_in(page, username: str, password: str = "demo1234") -> None:
    page.goto("/console/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
