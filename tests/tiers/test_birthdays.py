"""Birthday gifts: once per member and year, on the business-day birthday, 29 Feb on 28 Feb in other years."""
import threading
from datetime import date

from sqlalchemy import select

from app.extensions import db
from benefits import grants
from coupons import templates
from coupons.models import Coupon, CouponTemplate
from members.models import Member
from points.models import LedgerEntry
from tests.concurrency import end_test_transaction
from tests.conftest import bearer
from tests.coupons.helpers import template
from tiers import growth, ladder
from tiers.models import BenefitGrant


def _member(login, name: str, birthday: date, start_growth: int = 0) -> int:
    _, member_id = login(name)
    member = db.session.get(Member, member_id)
    member.birthday = birthday
    db.session.commit()
    if start_growth:
        growth.add_growth(member_id, start_growth, "purchase")
        db.session.commit()
    return member_id


def _coupons() -> list[tuple[int, int, str]]:
    """Every coupon issued, as (member, template, grant key)."""
    return sorted(db.session.execute(select(Coupon.member_id, Coupon.template_id, Coupon.grant_key)).all())


def _birthday_points(member_id: int) -> list[tuple[int, str]]:
    return [(e.delta, e.business_key) for e in db.session.query(LedgerEntry).filter_by(member_id=member_id,
                                                                                       kind="grant")]


def test_gift_once_on_the_business_day(tiers, login, at):
    member_id = _member(login, "alice", date(1990, 5, 20))
    other = _member(login, "bob", date(1990, 5, 21))
    at("2026-05-19T16:30:00+00:00")  # 00:30 on 20 May in Shanghai
    counts = grants.grant_birthday_gifts()
    assert counts["changed"] == 1
    assert _birthday_points(member_id) == [(100, f"birthday:{member_id}:2026")]
    assert _birthday_points(other) == []
    again = grants.grant_birthday_gifts()
    assert again["changed"] == 0 and again["skipped"] == 1
    assert _birthday_points(member_id) == [(100, f"birthday:{member_id}:2026")]
    grant = db.session.query(BenefitGrant).one()
    assert (grant.benefit, grant.period, grant.source, grant.payload["points"]) == ("birthday", "2026", "tier:normal",
                                                                                    100)


def test_gift_again_next_year_at_the_tier_of_that_day(tiers, login, at):
    member_id = _member(login, "carol", date(1990, 5, 20))
    grants.grant_birthday_gifts(date(2026, 5, 20))
    at("2026-08-01T10:00:00+08:00")
    growth.add_growth(member_id, 1000, "purchase")
    db.session.commit()
    grants.grant_birthday_gifts(date(2027, 5, 20))
    assert sorted(_birthday_points(member_id)) == [(100, f"birthday:{member_id}:2026"),
                                                   (300, f"birthday:{member_id}:2027")]


def test_29_february(tiers, login):
    member_id = _member(login, "leap", date(2000, 2, 29))
    assert grants.grant_birthday_gifts(date(2026, 2, 27))["changed"] == 0
    assert grants.grant_birthday_gifts(date(2026, 2, 28))["changed"] == 1
    assert grants.grant_birthday_gifts(date(2026, 3, 1))["changed"] == 0
    assert grants.grant_birthday_gifts(date(2028, 2, 28))["changed"] == 0  # a leap year: wait for the 29th
    assert grants.grant_birthday_gifts(date(2028, 2, 29))["changed"] == 1
    assert sorted(k for _, k in _birthday_points(member_id)) == [f"birthday:{member_id}:2026",
                                                                 f"birthday:{member_id}:2028"]


def test_month_start_setting(tiers, login):
    member_id = _member(login, "gold", date(1990, 5, 20), start_growth=5000)  # gold: gift on the 1st of the month
    assert grants.grant_birthday_gifts(date(2026, 5, 1))["changed"] == 1
    assert grants.grant_birthday_gifts(date(2026, 5, 20))["changed"] == 0
    assert _birthday_points(member_id) == [(1000, f"birthday:{member_id}:2026")]


def test_birthday_set_after_this_years_gift_day(tiers, login, at, client):
    at("2026-06-01T10:00:00+08:00")
    token, member_id = login("late")
    grants.grant_birthday_gifts(date(2026, 5, 20))  # the job ran on the day, before the birthday was known
    response = client.patch("/api/v1/me", headers=bearer(token), json={"birthday": "1990-05-20"})
    assert response.status_code == 200
    assert grants.grant_birthday_gifts()["changed"] == 0  # 1 June: not the birthday
    assert _birthday_points(member_id) == []
    at("2027-05-20T09:00:00+08:00")
    assert grants.grant_birthday_gifts()["changed"] == 1
    assert _birthday_points(member_id) == [(100, f"birthday:{member_id}:2027")]


def test_benefit_changes_do_not_touch_past_grants(tiers, login, client, marketing):
    member_id = _member(login, "dora", date(1990, 5, 20))
    grants.grant_birthday_gifts(date(2026, 5, 20))
    response = client.patch(f"/api/v1/admin/tiers/{tiers['normal'].id}", headers=marketing,
                            json={"benefits": {"birthday_gift": {"points": 500}}})
    assert response.status_code == 200, response.get_json()
    assert grants.grant_birthday_gifts(date(2026, 5, 20))["changed"] == 0
    assert _birthday_points(member_id) == [(100, f"birthday:{member_id}:2026")]
    db.session.expire_all()
    assert db.session.query(BenefitGrant).one().payload["points"] == 100
    grants.grant_birthday_gifts(date(2027, 5, 20))
    assert sorted(_birthday_points(member_id)) == [(100, f"birthday:{member_id}:2026"),
                                                   (500, f"birthday:{member_id}:2027")]


def test_coupon_gifts_and_batches(tiers, login):
    first, second = template(claimable=False), template(claimable=False)
    ladder.save_tier(tiers["normal"].id, {"benefits": {"birthday_gift": {
        "points": 0, "coupon_template_ids": [first.id, second.id]}}})
    ids = [_member(login, f"m{i}", date(1990, 5, 20)) for i in range(3)]
    counts = grants.grant_birthday_gifts(date(2026, 5, 20), batch_size=2)
    assert counts == {"scanned": 3, "changed": 3, "skipped": 0, "failed": 0}
    expected = sorted((m, t.id, f"birthday:{m}:2026:{t.id}:0") for m in ids for t in (first, second))
    assert _coupons() == expected
    assert {(c.source, c.reason, c.state) for c in db.session.query(Coupon)} == {("grant", "birthday", "available")}
    assert grants.grant_birthday_gifts(date(2026, 5, 20), batch_size=2)["changed"] == 0
    assert _coupons() == expected
    db.session.expire_all()
    assert [db.session.get(CouponTemplate, t.id).issued_count for t in (first, second)] == [3, 3]
    assert all(_birthday_points(m) == [] for m in ids)


def test_a_failed_coupon_grants_nothing_and_is_retried(tiers, login, caplog, monkeypatch):
    monkeypatch.setattr(grants.log, "disabled", False)  # alembic's logging config (migration test) disables it
    kept, stopped = template(claimable=False), template(claimable=False, active=False)
    ladder.save_tier(tiers["normal"].id, {"benefits": {"birthday_gift": {
        "points": 50, "coupon_template_ids": [kept.id, stopped.id]}}})
    member_id = _member(login, "eve", date(1990, 5, 20))
    assert grants.grant_birthday_gifts(date(2026, 5, 20))["failed"] == 1
    assert "coupon_template_stopped" in caplog.text
    assert _birthday_points(member_id) == [] and db.session.query(BenefitGrant).count() == 0
    assert _coupons() == []  # not even the coupon of the template that could be issued
    templates.update_template(stopped.id, {"active": True})
    assert grants.grant_birthday_gifts(date(2026, 5, 20))["changed"] == 1
    assert _birthday_points(member_id) == [(50, f"birthday:{member_id}:2026")]
    assert _coupons() == sorted((member_id, t.id, f"birthday:{member_id}:2026:{t.id}:0") for t in (kept, stopped))


def test_no_gift_without_birthday_or_gift(tiers, login):
    _, member_id = login("nobday")
    ladder.save_tier(tiers["silver"].id, {"benefits": {"points_multiplier_percent": 120}})
    _member(login, "silver", date(1990, 5, 20), start_growth=1000)
    counts = grants.grant_birthday_gifts(date(2026, 5, 20))
    assert counts["changed"] == 0 and counts["skipped"] == 1
    assert db.session.query(BenefitGrant).count() == 0


def test_concurrent_runs_grant_once(tiers, login, app):
    ids = [_member(login, f"c{i}", date(1990, 5, 20)) for i in range(6)]
    results = []

    def run():
        with app.app_context():
            results.append(grants.grant_birthday_gifts(date(2026, 5, 20), batch_size=2))

    end_test_transaction()
    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r["changed"] for r in results) == 6 and sum(r["failed"] for r in results) == 0
    assert db.session.query(BenefitGrant).count() == 6
    for member_id in ids:
        assert _birthday_points(member_id) == [(100, f"birthday:{member_id}:2026")]
