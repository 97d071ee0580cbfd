import pytest

from coupons import issuing, templates

KNOWN_TEMPLATES = {7, 8, 9}


class CouponGrants:
    """Stands in for coupons.issuing.grant and grant_many and coupons.templates.get_template: records what
    the jobs ask for."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.keys: set[str] = set()
        self.fail_for: set[int] = set()

    def get_template(self, template_id: int):
        from app.errors import NotFound

        if template_id not in KNOWN_TEMPLATES:
            raise NotFound("no such template", code="coupon_template_not_found")
        return {"id": template_id}

    def grant(self, member_id: int, template_id: int, *, key: str, reason: str):
        from app.errors import Conflict

        if template_id in self.fail_for:
            raise Conflict("out of stock", code="out_of_stock")
        if key not in self.keys:  # the real grant is idempotent by key too
            self.keys.add(key)
            self.calls.append({"member_id": member_id, "template_id": template_id, "key": key, "reason": reason})
        return {"template_id": template_id}

    def grant_many(self, items, *, reason: str) -> dict:
        """As the real one: all of a member's coupons or none, the refusal returned per member."""
        from app.errors import Conflict

        failed = {i.member_id: Conflict("out of stock", code="out_of_stock") for i in items
                  if i.template_id in self.fail_for}
        for item in items:
            if item.member_id not in failed:
                self.grant(item.member_id, item.template_id, key=item.key, reason=reason)
        return failed


@pytest.fixture
def coupon_grants(monkeypatch):

    fake = CouponGrants()
    monkeypatch.setattr(templates, "get_template", fake.get_template)
    monkeypatch.setattr(issuing, "grant", fake.grant)
    monkeypatch.setattr(issuing, "grant_many", fake.grant_many)
    return fake
