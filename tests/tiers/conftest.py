import pytest

KNOWN_TEMPLATES = {7, 8, 9}


class CouponGrants:
    """Stands in for coupons.service.grant/get_template (the coupons domain lands on its own branch)."""

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


@pytest.fixture
def coupon_grants(monkeypatch):
    from coupons import service as coupons_service

    fake = CouponGrants()
    monkeypatch.setattr(coupons_service, "get_template", fake.get_template, raising=False)
    monkeypatch.setattr(coupons_service, "grant", fake.grant)
    return fake
