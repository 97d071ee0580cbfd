"""Growth, upgrades at once, downgrades only at review, refunds under both policies, time across years."""
from datetime import date

import pytest

from app import events
from app.errors import NotFound
from app.extensions import db
from members.models import Member
from tests.conftest import bearer
from tiers import growth, ladder, review
from tiers.models import GrowthEvent, TierChange
from till import membership


def _tier(member_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Member, member_id).tier.code


def _grow(member_id: int, delta: int, reason: str = "purchase", ref: str | None = None):
    change = growth.add_growth(member_id, delta, reason, ref)
    db.session.commit()
    return change


def test_threshold_crossed_exactly(tiers, login, at, client):
    at("2026-01-10T10:00:00+08:00")
    token, member_id = login("alice")
    assert _grow(member_id, 999) is None
    assert _tier(member_id) == "normal"
    assert _grow(member_id, 1, ref="order-1") == {"from": "normal", "to": "silver"}
    assert _tier(member_id) == "silver"
    change = db.session.query(TierChange).one()
    assert (change.from_tier_id, change.to_tier_id, change.reason, change.ref) == (
        tiers["normal"].id, tiers["silver"].id, "purchase", "order-1")
    me = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert me["tier"]["code"] == "silver" and me["growth"] == 1000
    assert me["next_tier"] == {"code": "gold", "name": "尊享会员", "growth_needed": 4000}
    member = db.session.get(Member, member_id)
    assert member.tier_review_on == date(2027, 1, 10)


def test_several_tiers_at_once_is_one_change_and_one_event(tiers, login):
    _, member_id = login("bob")
    seen = []

    def receiver(sender, **kwargs):
        seen.append(kwargs)

    events.tier_changed.connect(receiver)
    try:
        assert _grow(member_id, 6000) == {"from": "normal", "to": "gold"}
    finally:
        events.tier_changed.disconnect(receiver)
    assert seen == [{"member_id": member_id, "from_tier": "normal", "to_tier": "gold", "reason": "purchase"}]
    assert db.session.query(TierChange).count() == 1
    assert _grow(member_id, 10000) is None  # no tier above gold


def test_growth_never_goes_below_zero_and_zero_changes_nothing(tiers, login):
    _, member_id = login("carol")
    assert _grow(member_id, 0) is None
    assert db.session.query(GrowthEvent).count() == 0
    _grow(member_id, -50, reason="refund")
    assert db.session.get(Member, member_id).growth == 0


def test_bad_calls(tiers, login):
    _, member_id = login("dave")
    with pytest.raises(ValueError):
        growth.add_growth(member_id, 1.5, "purchase")
    with pytest.raises(ValueError):
        growth.add_growth(member_id, True, "purchase")
    with pytest.raises(NotFound):
        growth.add_growth(999_999, 10, "purchase")


def test_review_keeps_the_tier_with_enough_growth(tiers, login, at):
    at("2026-01-10T10:00:00+08:00")
    _, member_id = login("erin")
    _grow(member_id, 999)
    at("2026-02-01T10:00:00+08:00")
    _grow(member_id, 1)  # silver; review on 2027-02-01; period growth 1
    at("2026-06-01T10:00:00+08:00")
    _grow(member_id, 600)
    at("2027-01-31T10:00:00+08:00")
    assert review.review_tiers()["changed"] == 0
    at("2027-02-01T00:30:00+08:00")
    counts = review.review_tiers()
    assert counts == {"scanned": 1, "changed": 0, "skipped": 1, "failed": 0}
    member = db.session.get(Member, member_id)
    assert member.tier.code == "silver" and member.tier_review_on == date(2028, 2, 1)
    assert db.session.query(TierChange).count() == 1


def test_review_downgrades_without_enough_growth(tiers, login, at):
    at("2026-01-10T10:00:00+08:00")
    _, member_id = login("fay")
    _grow(member_id, 999)
    at("2026-02-01T10:00:00+08:00")
    _grow(member_id, 1)
    at("2026-06-01T10:00:00+08:00")
    _grow(member_id, 400)  # 401 in the period < 500 retention
    at("2027-02-01T00:30:00+08:00")
    assert review.review_tiers()["changed"] == 1
    member = db.session.get(Member, member_id)
    assert member.tier.code == "normal" and member.growth == 0 and member.tier_review_on is None
    last = db.session.query(TierChange).order_by(TierChange.id.desc()).first()
    assert (last.reason, last.from_tier_id, last.to_tier_id) == ("review", tiers["silver"].id, tiers["normal"].id)
    assert review.review_tiers()["scanned"] == 0  # re-run: nothing left to review


@pytest.mark.parametrize("mode, after_first, after_second", [
    ("one_step", "silver", "normal"),
    ("to_supported", "normal", "normal"),
])
def test_downgrade_modes_across_years(tiers, login, at, mode, after_first, after_second):
    ladder.update_policy({"downgrade_mode": mode})
    at("2026-01-10T10:00:00+08:00")
    _, member_id = login("gus")
    _grow(member_id, 5000)  # gold; the period counts the growth that took him there
    at("2027-01-10T01:00:00+08:00")
    review.review_tiers()
    assert _tier(member_id) == "gold"  # 5000 >= 2500: kept, next review 2028-01-10
    at("2028-01-10T01:00:00+08:00")
    review.review_tiers()  # nothing earned in 2027: down
    assert _tier(member_id) == after_first
    at("2029-01-10T01:00:00+08:00")
    review.review_tiers()
    assert _tier(member_id) == after_second
    at("2031-01-10T01:00:00+08:00")
    review.review_tiers()
    assert _tier(member_id) == "normal"  # never below the entry tier


def test_to_supported_stops_at_what_the_period_supports(tiers, login, at):
    ladder.update_policy({"downgrade_mode": "to_supported"})
    at("2026-01-10T10:00:00+08:00")
    _, member_id = login("hal")
    _grow(member_id, 5000)
    at("2027-03-01T10:00:00+08:00")  # after the 2027-01-10 review (not run): the catch-up uses the due date
    _grow(member_id, 600)
    review.review_tiers()  # 2027-01-10: 5000 in the first period -> kept
    assert _tier(member_id) == "gold"
    at("2028-01-10T01:00:00+08:00")
    review.review_tiers()  # 600 since 2027-01-10: supports silver (500), not gold (2500)
    member = db.session.get(Member, member_id)
    assert member.tier.code == "silver" and member.growth == 1000
    events_ = list(db.session.query(GrowthEvent).filter_by(member_id=member_id).order_by(GrowthEvent.id))
    assert sum(e.delta for e in events_) == member.growth  # the growth log still adds up to the member's growth
    assert (events_[-1].reason, events_[-1].delta, events_[-1].growth_after) == ("review_reset", -4600, 1000)
    at("2028-06-01T10:00:00+08:00")
    _grow(member_id, 600)
    at("2029-01-10T01:00:00+08:00")
    review.review_tiers()  # 600 earned since the downgrade: the reset is not negative earning, silver kept
    assert _tier(member_id) == "silver"


def test_refund_waits_for_review_by_default(tiers, login, at):
    at("2026-01-10T10:00:00+08:00")
    _, member_id = login("ian")
    _grow(member_id, 999)
    at("2026-02-01T10:00:00+08:00")
    _grow(member_id, 601)  # silver with 601 in the period
    assert _grow(member_id, -200, reason="refund", ref="r-1") is None
    assert _tier(member_id) == "silver"  # growth 1400 < ... still silver until the review
    at("2027-02-01T01:00:00+08:00")
    review.review_tiers()  # 601 - 200 = 401 < 500
    assert _tier(member_id) == "normal"


def test_refund_downgrades_at_once_under_the_immediate_policy(tiers, login, at):
    ladder.update_policy({"refund_downgrade": "immediate"})
    at("2026-01-10T10:00:00+08:00")
    _, member_id = login("jo")
    _grow(member_id, 1200)
    assert _grow(member_id, -100, reason="refund") is None  # 1100 still supports silver
    assert _grow(member_id, -200, reason="refund", ref="r-2") == {"from": "silver", "to": "normal"}
    last = db.session.query(TierChange).order_by(TierChange.id.desc()).first()
    assert (last.reason, last.ref) == ("refund", "r-2")
    assert db.session.get(Member, member_id).tier_review_on is None


def test_calendar_review_rule(tiers, login, at, marketing, client):
    response = client.patch(f"/api/v1/admin/tiers/{tiers['silver'].id}", headers=marketing,
                            json={"review_rule": "calendar", "review_month_day": "12-31"})
    assert response.status_code == 200, response.get_json()
    at("2026-03-01T10:00:00+08:00")
    _, member_id = login("kim")
    _grow(member_id, 1000)
    assert db.session.get(Member, member_id).tier_review_on == date(2026, 12, 31)
    at("2026-12-31T01:00:00+08:00")
    review.review_tiers()  # 1000 in the period: kept until the next 31 December
    assert db.session.get(Member, member_id).tier_review_on == date(2027, 12, 31)


def test_tier_multiplier(tiers, login):
    _, member_id = login("lee")
    assert membership.membership_multipliers(member_id, date(2026, 3, 8)) == [
        {"name": "tier:normal", "percent": 100}]
    _grow(member_id, 5000)
    assert membership.membership_multipliers(member_id, date(2026, 3, 8)) == [
        {"name": "tier:gold", "percent": 150}]


def test_my_tier_history(client, tiers, login, at):
    at("2026-01-10T10:00:00+08:00")
    token, member_id = login("max")
    _grow(member_id, 1000, ref="o-1")
    at("2026-01-11T10:00:00+08:00")
    _grow(member_id, 4000, ref="o-2")
    response = client.get("/api/v1/me/tier-history?limit=1", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    page = response.get_json()
    assert [(c["from_tier"]["code"], c["to_tier"]["code"], c["reason"]) for c in page["items"]] == [
        ("silver", "gold", "purchase")]
    rest = client.get(f"/api/v1/me/tier-history?cursor={page['next_cursor']}", headers=bearer(token)).get_json()
    assert [(c["from_tier"]["code"], c["to_tier"]["code"]) for c in rest["items"]] == [("normal", "silver")]
    other, _ = login("nobody")
    assert client.get("/api/v1/me/tier-history", headers=bearer(other)).get_json()["items"] == []
    assert client.get("/api/v1/me/tier-history").status_code == 401


def test_missed_reviews_are_caught_up_one_due_date_at_a_time(tiers, login, at):
    at("2026-01-10T10:00:00+08:00")
    _, member_id = login("ned")
    _grow(member_id, 5000)
    at("2029-06-01T10:00:00+08:00")  # reviews due 2027, 2028 and 2029 never ran
    counts = review.review_tiers()
    assert counts["scanned"] == 1 and counts["changed"] == 1
    member = db.session.get(Member, member_id)
    # 2027: kept (5000 in the first year); 2028: gold -> silver; 2029: silver -> normal (entry: no more reviews)
    assert member.tier.code == "normal" and member.tier_review_on is None
    assert [c.reason for c in db.session.query(TierChange).order_by(TierChange.id)] == ["purchase", "review", "review"]


def test_jobs_are_thin_entry_points(tiers, login, at):
    from benefits import jobs
    from tiers import jobs as tier_jobs
    from vip import jobs as vip_jobs

    at("2026-05-20T10:00:00+08:00")
    for job in (jobs.grant_birthday_gifts, tier_jobs.review_tiers, vip_jobs.expire_vips):
        assert job() == {"scanned": 0, "changed": 0, "skipped": 0, "failed": 0}
    assert jobs.grant_monthly_packs("2026-05") == {"scanned": 0, "changed": 0, "skipped": 0, "failed": 0}


def test_benefit_edits_apply_from_the_next_transaction(tiers, login, client, marketing):
    _, member_id = login("olga")
    _grow(member_id, 5000)
    response = client.patch(f"/api/v1/admin/tiers/{tiers['gold'].id}", headers=marketing,
                            json={"benefits": {"points_multiplier_percent": 300}})
    assert response.status_code == 200
    assert membership.membership_multipliers(member_id, date(2026, 3, 9)) == [
        {"name": "tier:gold", "percent": 300}]
    assert db.session.query(TierChange).count() == 1  # editing the ladder moves nobody
