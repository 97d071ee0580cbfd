"""Signing in to the console through its real form (CSRF token and all), for the test client."""
from __future__ import annotations

import re

from werkzeug.datastructures import MultiDict

from app.extensions import db

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = TOKEN.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client, username: str, password: str = "demo1234"):
    page = client.get("/console/login")
    response = client.post("/console/login", data={"username": username, "password": password,
                                                   "csrf_token": csrf_token(page.get_data(as_text=True))})
    return response


def post(client, path: str, data: dict | list, page: str = "/console/till", **kwargs):
    """POST a console form with the token of `page`, as the browser would."""
    token = csrf_token(client.get(page).get_data(as_text=True))
    if isinstance(data, dict):
        data = {**data, "csrf_token": token}
    else:
        data = MultiDict([*data, ("csrf_token", token)])
    return client.post(path, data=data, **kwargs)


def count(model) -> int:
    return db.session.query(model).count()
