"""app/references.py: a lower domain checks ids a higher one owns through the owner's registered check."""
from __future__ import annotations

import pytest

from app import references
from app.errors import ValidationError


def test_an_unknown_id_is_a_422_naming_the_field(tiers, client, marketing):
    response = client.patch(f"/api/v1/admin/tiers/{tiers['silver'].id}", headers=marketing,
                            json={"benefits": {"birthday_gift": {"coupon_template_ids": [424242]}}})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "unknown_coupon_template"
    assert "benefits.birthday_gift.coupon_template_ids" in error["fields"]


def test_a_kind_nobody_provides_is_a_wiring_error_not_a_pass():
    with pytest.raises(RuntimeError, match="no domain provides"):
        references.check("gift_card", [1], "gift_card_id")


def test_the_owner_decides(monkeypatch):
    monkeypatch.setitem(references._owners, "gift_card", lambda value: value == 7)
    references.check("gift_card", [7], "gift_card_id")
    with pytest.raises(ValidationError) as refused:
        references.check("gift_card", [7, 8], "gift_card_id")
    assert refused.value.code == "unknown_gift_card"
