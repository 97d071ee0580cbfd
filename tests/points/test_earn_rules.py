"""How earn rules combine: membership multipliers, priority, stacking, date/weekday/category/SKU, caps."""
from __future__ import annotations

from datetime import date

from app.extensions import db
from members.models import Member
from till.models import EarnRule


def _rule(**values) -> EarnRule:
    rule = EarnRule(**({"percent": 200, "priority": 0, "stackable": True, "active": True} | values))
    db.session.add(rule)
    db.session.commit()
    return rule


def _quote(client, staff, member_id, items):
    response = client.post("/api/v1/pos/quote", headers=staff,
                           json={"member_id": member_id, "items": [{"sku": s, "qty": q} for s, q in items]})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


WEDNESDAY = "2026-03-04T10:00:00+08:00"
THURSDAY = "2026-03-05T10:00:00+08:00"


def test_member_day_doubles_only_on_its_weekday(client, staff, shopper, at):
    _, member_id = shopper
    _rule(name="会员日", weekdays=[3])
    at(WEDNESDAY)
    quote = _quote(client, staff, member_id, [("LATTE", 1)])
    assert quote["points_to_earn"] == 60
    assert [(r["type"], r["name"], r["points"]) for r in quote["applied_rules"]] == [
        ("base", "base", 30), ("membership", "tier:normal", 0), ("earn_rule", "会员日", 30)]
    assert sum(r["points"] for r in quote["applied_rules"]) == quote["points_to_earn"]
    at(THURSDAY)
    assert _quote(client, staff, member_id, [("LATTE", 1)])["points_to_earn"] == 30


def test_tier_multiplier_comes_from_membership(client, staff, shopper, tiers, at):
    _, member_id = shopper
    db.session.get(Member, member_id).tier_id = tiers["gold"].id  # 150% in the demo benefit table
    db.session.commit()
    _rule(name="会员日", weekdays=[3])
    at(WEDNESDAY)
    quote = _quote(client, staff, member_id, [("TEA", 1)])  # gold price 1800 -> 18 base x1.5 = 27, x2 -> +27
    assert quote["points_to_earn"] == 54
    assert quote["applied_rules"][:2] == [
        {"type": "base", "id": None, "name": "base", "percent": 100, "points": 18, "capped": False},
        {"type": "membership", "id": None, "name": "tier:gold", "percent": 150, "points": 9, "capped": False}]
    assert sum(r["points"] for r in quote["applied_rules"]) == quote["points_to_earn"]


def test_category_rule_counts_only_its_lines(client, staff, shopper):
    _, member_id = shopper
    _rule(name="bakery x3", percent=300, categories=["bakery"])
    quote = _quote(client, staff, member_id, [("LATTE", 1), ("CAKE", 2)])  # 30 + 20 yuan; bakery +40
    assert quote["points_to_earn"] == 50 + 40


def test_sku_and_tier_conditions(client, staff, shopper):
    _, member_id = shopper
    _rule(name="mug", skus=["MUG"])
    _rule(name="gold only", tiers=["gold"])
    quote = _quote(client, staff, member_id, [("MUG", 1), ("TEA", 1)])
    assert quote["points_to_earn"] == 120 + 100
    assert [r["name"] for r in quote["applied_rules"] if r["type"] == "earn_rule"] == ["mug"]


def test_date_range_is_inclusive_business_days(client, staff, shopper, at):
    _, member_id = shopper
    _rule(name="promo", start_date=date(2026, 3, 1), end_date=date(2026, 3, 3))
    at("2026-03-03T23:59:00+08:00")
    assert _quote(client, staff, member_id, [("CAKE", 1)])["points_to_earn"] == 20
    at("2026-03-04T00:00:00+08:00")  # still 3 March in UTC, but 4 March in Shanghai
    assert _quote(client, staff, member_id, [("CAKE", 1)])["points_to_earn"] == 10


def test_stackable_rules_add_their_bonuses(client, staff, shopper, at):
    _, member_id = shopper
    _rule(name="double", percent=200, priority=5)
    _rule(name="half more", percent=150, priority=1)
    quote = _quote(client, staff, member_id, [("MUG", 1)])  # 100 base: +100 +50
    assert quote["points_to_earn"] == 250
    assert [r["name"] for r in quote["applied_rules"][2:]] == ["double", "half more"]


def test_exclusive_rule_of_highest_priority_wins_alone(client, staff, shopper):
    _, member_id = shopper
    _rule(name="triple exclusive", percent=300, priority=9, stackable=False)
    _rule(name="double", percent=200, priority=5)
    assert _quote(client, staff, member_id, [("MUG", 1)])["points_to_earn"] == 300


def test_exclusive_rule_below_a_stackable_one_is_skipped(client, staff, shopper):
    _, member_id = shopper
    _rule(name="double", percent=200, priority=9)
    _rule(name="triple exclusive", percent=300, priority=5, stackable=False)
    quote = _quote(client, staff, member_id, [("MUG", 1)])
    assert quote["points_to_earn"] == 200
    assert [r["name"] for r in quote["applied_rules"][2:]] == ["double"]


def test_inactive_rules_do_nothing(client, staff, shopper):
    _, member_id = shopper
    _rule(name="off", active=False)
    assert _quote(client, staff, member_id, [("MUG", 1)])["points_to_earn"] == 100


def test_cap_per_order(client, staff, shopper):
    _, member_id = shopper
    _rule(name="capped", cap_per_order=30)
    quote = _quote(client, staff, member_id, [("MUG", 1)])
    assert quote["points_to_earn"] == 130 and quote["applied_rules"][2]["capped"] is True


def test_cap_per_day_counts_earlier_purchases_that_day(client, staff, shopper, buy, at):
    _, member_id = shopper
    _rule(name="daily", cap_per_day=150)
    at(WEDNESDAY)
    assert buy(member_id, [("MUG", 1)]).get_json()["points_earned"] == 200
    assert buy(member_id, [("MUG", 1)]).get_json()["points_earned"] == 150  # only 50 bonus left today
    assert buy(member_id, [("MUG", 1)]).get_json()["points_earned"] == 100
    at(THURSDAY)
    assert buy(member_id, [("MUG", 1)]).get_json()["points_earned"] == 200


def test_points_are_earned_on_money_not_on_points(client, staff, shopper, give):
    _, member_id = shopper
    give(member_id, 1000)
    body = {"member_id": member_id, "items": [{"sku": "LATTE", "qty": 1}], "points_to_use": 1000}
    quote = client.post("/api/v1/pos/quote", headers=staff, json=body).get_json()
    assert quote["payable"] == 2000 and quote["points_to_earn"] == 20


def test_every_membership_multiplier_shows_what_it_added(client, staff, shopper, monkeypatch):
    """A tier and a paid VIP both multiply: each names the points it added over those before it, and the
    list adds up to the points earned (the VIP's share used to show as 0)."""
    from till import membership

    _, member_id = shopper
    monkeypatch.setattr(membership, "membership_multipliers", lambda member_id, day: [
        {"name": "tier:gold", "percent": 150}, {"name": "vip:annual", "percent": 150}])
    quote = _quote(client, staff, member_id, [("TEA", 1)])  # 20 yuan paid: 20 x 1.5 = 30, x 1.5 = 45
    assert [(r["name"], r["points"]) for r in quote["applied_rules"]] == [
        ("base", 20), ("tier:gold", 10), ("vip:annual", 15)]
    assert quote["points_to_earn"] == 45 == sum(r["points"] for r in quote["applied_rules"])
