"""A stand-in for the coupons domain in task and mall tests: every template exists, grants are recorded."""
from __future__ import annotations

from types import SimpleNamespace

from app.errors import ApiError
from coupons import issuing, templates


def stub_coupons(monkeypatch, fail: ApiError | None = None) -> list[tuple]:
    """Every template exists; `grant` records (member, template, key, reason) and returns {"id": n}, or raises
    `fail`. Returns the list of grants."""

    grants: list[tuple] = []

    def grant(member_id: int, template_id: int, *, key: str, reason: str):
        if fail is not None:
            raise fail
        grants.append((member_id, template_id, key, reason))
        return SimpleNamespace(id=len(grants))

    monkeypatch.setattr(templates, "get_template", lambda template_id: SimpleNamespace(id=template_id))
    monkeypatch.setattr(issuing, "grant", grant)
    return grants
