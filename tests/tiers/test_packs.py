"""Monthly coupon packs: per tier, once per member and month, through coupons.issuing.grant."""
import pytest

from app.errors import ValidationError
from app.extensions import db
from benefits import grants
from tiers import growth, ladder, review
from tiers.models import BenefitGrant


def test_tier_pack_once_a_month(tiers, login, at, coupon_grants):
    ladder.save_tier(tiers["silver"].id, {"benefits": {"monthly_pack": [{"coupon_template_id": 7, "count": 2}]}})
    _, normal = login("normal")
    _, silver = login("silver")
    growth.add_growth(silver, 1000, "purchase")
    db.session.commit()
    at("2026-03-01T00:10:00+08:00")
    counts = grants.grant_monthly_packs()
    assert counts == {"scanned": 1, "changed": 1, "skipped": 0, "failed": 0}
    assert [(c["member_id"], c["template_id"], c["key"]) for c in coupon_grants.calls] == [
        (silver, 7, f"monthly_pack:{silver}:2026-03:7:0"), (silver, 7, f"monthly_pack:{silver}:2026-03:7:1")]
    assert grants.grant_monthly_packs("2026-03")["changed"] == 0
    assert len(coupon_grants.calls) == 2
    assert grants.grant_monthly_packs("2026-04")["changed"] == 1
    assert len(coupon_grants.calls) == 4
    assert {(g.member_id, g.period) for g in db.session.query(BenefitGrant)} == {(silver, "2026-03"),
                                                                                (silver, "2026-04")}
    assert normal not in {c["member_id"] for c in coupon_grants.calls}


def test_bad_month():
    for month in ("2026-13", "march", "2026/03", "2026-02-30", "2026-3"):
        with pytest.raises(ValidationError):
            grants.grant_monthly_packs(month)


def test_month_and_day_as_the_scheduler_passes_them(tiers, login, coupon_grants):
    from datetime import date

    ladder.save_tier(tiers["silver"].id, {"benefits": {"monthly_pack": [{"coupon_template_id": 7}]}})
    _, silver = login("silver")
    growth.add_growth(silver, 1000, "purchase")
    db.session.commit()
    assert grants.grant_monthly_packs(date(2026, 3, 1))["changed"] == 1
    assert grants.grant_monthly_packs("2026-03-01")["changed"] == 0
    assert grants.grant_monthly_packs("2026-03")["changed"] == 0
    assert db.session.query(BenefitGrant).one().period == "2026-03"
    assert review.review_tiers("2026-03-01")["scanned"] == 0
    with pytest.raises(ValidationError):
        review.review_tiers("yesterday")
