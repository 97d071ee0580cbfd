"""Monthly coupon packs: per tier, once per member and month, issued as real coupons (coupons.issuing)."""
import pytest
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from benefits import grants
from coupons.models import Coupon
from tests.coupons.helpers import template
from tiers import growth, ladder, review
from tiers.models import BenefitGrant


def _coupons() -> list[tuple[int, int, str, str, str]]:
    """Every coupon issued: (member, template, grant key, source, reason), sorted."""
    return sorted(tuple(row) for row in db.session.execute(
        select(Coupon.member_id, Coupon.template_id, Coupon.grant_key, Coupon.source, Coupon.reason)))


def test_tier_pack_once_a_month(tiers, login, at):
    t = template(claimable=False)
    ladder.save_tier(tiers["silver"].id, {"benefits": {"monthly_pack": [{"coupon_template_id": t.id, "count": 2}]}})
    _, normal = login("normal")
    _, silver = login("silver")
    growth.add_growth(silver, 1000, "purchase")
    db.session.commit()
    at("2026-03-01T00:10:00+08:00")
    counts = grants.grant_monthly_packs()
    assert counts == {"scanned": 1, "changed": 1, "skipped": 0, "failed": 0}
    march = [(silver, t.id, f"monthly_pack:{silver}:2026-03:{t.id}:{n}", "grant", "tier_monthly_pack")
             for n in (0, 1)]
    assert _coupons() == march
    assert grants.grant_monthly_packs("2026-03")["changed"] == 0
    assert _coupons() == march
    assert grants.grant_monthly_packs("2026-04")["changed"] == 1
    assert _coupons() == march + [(silver, t.id, f"monthly_pack:{silver}:2026-04:{t.id}:{n}", "grant",
                                   "tier_monthly_pack") for n in (0, 1)]
    assert {(g.member_id, g.period) for g in db.session.query(BenefitGrant)} == {(silver, "2026-03"),
                                                                                (silver, "2026-04")}
    assert normal not in {member_id for member_id, *_ in _coupons()}


def test_bad_month():
    for month in ("2026-13", "march", "2026/03", "2026-02-30", "2026-3"):
        with pytest.raises(ValidationError):
            grants.grant_monthly_packs(month)


def test_month_and_day_as_the_scheduler_passes_them(tiers, login):
    from datetime import date

    t = template(claimable=False)
    ladder.save_tier(tiers["silver"].id, {"benefits": {"monthly_pack": [{"coupon_template_id": t.id}]}})
    _, silver = login("silver")
    growth.add_growth(silver, 1000, "purchase")
    db.session.commit()
    assert grants.grant_monthly_packs(date(2026, 3, 1))["changed"] == 1
    assert grants.grant_monthly_packs("2026-03-01")["changed"] == 0
    assert grants.grant_monthly_packs("2026-03")["changed"] == 0
    assert db.session.query(BenefitGrant).one().period == "2026-03"
    assert [key for _, _, key, _, _ in _coupons()] == [f"monthly_pack:{silver}:2026-03:{t.id}:0"]
    assert review.review_tiers("2026-03-01")["scanned"] == 0
    with pytest.raises(ValidationError):
        review.review_tiers("yesterday")
