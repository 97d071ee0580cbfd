"""A stand-in for coupons.service in task and mall tests, valid with the placeholder and the real service."""
from __future__ import annotations

from types import SimpleNamespace

from app.errors import ApiError


def stub_coupons(monkeypatch, fail: ApiError | None = None) -> list[tuple]:
    """Every template exists; `grant` records (member, template, key, reason) and returns {"id": n}, or raises
    `fail`. Returns the list of grants."""
    from coupons import service

    grants: list[tuple] = []

    def grant(member_id: int, template_id: int, *, key: str, reason: str):
        if fail is not None:
            raise fail
        grants.append((member_id, template_id, key, reason))
        return {"id": len(grants)}

    monkeypatch.setattr(service, "get_template", lambda template_id: SimpleNamespace(id=template_id), raising=False)
    monkeypatch.setattr(service, "grant", grant)
    return grants
