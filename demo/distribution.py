"""Demo distribution (分销): the program switched on with its routes, a three-rung fan-group ladder and rules, and
three promoters with fans who bought through them over the last month, seeded through the real services with the
clock moved to each moment: settled and pending commission, a refund that took some back, a withdrawal paid to
the promoter's wallet by the demo's WeChat Pay and one waiting for marketing's approval.

Log in as `test-promoter01` (a 达人 with fans) to see a promoter's card; the fans are `test-fan01..08`.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.operators.models import Store
from distribution import attribution, commission, levels, program, promoters, withdrawals
from distribution.models import DistributionSettings
from members import service as members
from till import pricing, purchases

SETTINGS = {"enabled": True, "checkin_days": 30, "spend": 100_000, "vip_route": True, "pack_price": 19_900,
            "binding_days": 30, "touch": "first", "return_days": 7, "second_level_bp": None, "withdraw_min": 100,
            "withdraw_daily_count": 3, "withdraw_approval_over": 2_000}
LEVELS = [{"code": "star", "name": "新星", "rank": 0},
          {"code": "expert", "name": "达人", "rank": 1, "min_fans": 3, "min_gmv": 200_000},
          {"code": "ambassador", "name": "星推官", "rank": 2, "min_fans": 10, "min_gmv": 1_000_000}]
PROMOTERS = {1: "Vivi酱", 2: "咖啡阿南", 3: "Momo"}
FANS = {1: "小蓝", 2: "阿星", 3: "Zoe", 4: "果果", 5: "大熊", 6: "Nina", 7: "石头", 8: "可乐"}
# (days ago, fan, promoter, basket): the fan binds to the promoter at their first sale
SALES = [(26, 1, 1, [("LATTE", 2), ("CROISSANT", 1)]), (24, 2, 1, [("FLATWHITE", 1), ("CHEESECAKE", 1)]),
         (21, 3, 1, [("TUMBLER", 1)]), (18, 4, 2, [("MATCHA", 2)]), (15, 1, 1, [("AMERICANO", 3)]),
         (12, 5, 2, [("LATTE", 1), ("TUMBLER", 1)]), (6, 6, 1, [("FLATWHITE", 2)]), (4, 7, 3, [("OOLONG", 2)]),
         (2, 2, 1, [("LATTE", 2), ("CHEESECAKE", 2)]), (1, 8, 2, [("CROISSANT", 4)])]


def _login(code: str, nickname: str) -> int:
    member_id = members.wechat_login(code, scene="promoter-share")["member"].id
    members.update_profile(member_id, {"nickname": nickname})
    return member_id


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour, 30), tzinfo=clock.business_tz())


def _buy(store_id: int, member_id: int, order_no: str, basket: list[tuple[str, int]]) -> None:
    items = [{"sku": sku, "qty": qty} for sku, qty in basket]
    payable = pricing.build(pricing.resolve_member({"member_id": member_id}), items, [], None)["payable"]
    db.session.rollback()
    purchases.record(store_id, None, {"order_no": order_no, "member_id": member_id, "items": items, "paid": payable})


def seed() -> list[str]:
    if not current_app.config.get("TEST_LOGINS"):  # the promoters and fans are `test-...` logins: demo mode only
        return ["demo distribution: skipped (test logins are off outside the demo)"]
    if db.session.get(DistributionSettings, 1) is not None:
        return ["demo distribution: already there (log in as test-promoter01)"]
    program.update_settings(SETTINGS)
    ids = {level["code"]: program.save_level(None, level).id for level in LEVELS}
    program.save_rule(None, {"name": "全场 8%", "rate_bp": 800})
    program.save_rule(None, {"name": "达人咖啡 12%", "category": "coffee", "level_id": ids["expert"], "rate_bp": 1200})
    program.save_rule(None, {"name": "随行杯 15% (每单封顶 15元)", "sku": "TUMBLER", "rate_bp": 1500,
                             "cap_per_order": 1500})
    store_id = db.session.scalar(select(Store.id).order_by(Store.id))
    today = clock.business_today()
    previous = clock.frozen()
    try:
        clock.set_now(_at(today - timedelta(days=30), 10))
        people = {n: _login(f"test-promoter{n:02d}", name) for n, name in PROMOTERS.items()}
        codes = {n: promoters.grant(member_id).code for n, member_id in people.items()}
        fans = {n: _login(f"test-fan{n:02d}", name) for n, name in FANS.items()}
        channels = ["share", "qrcode", "poster", "moments", "group"]
        for index, (days_ago, fan, promoter, basket) in enumerate(SALES):
            clock.set_now(_at(today - timedelta(days=days_ago), 11))
            attribution.bind(fans[fan], codes[promoter], channels[index % len(channels)])
            clock.set_now(_at(today - timedelta(days=days_ago), 15))
            _buy(store_id, fans[fan], f"DIST{index + 1:04d}", basket)
            if days_ago == 12:  # the basket's cup came back: its share of the commission is taken back
                purchases.refund(store_id, f"DIST{index + 1:04d}", {"refund_no": f"RDIST{index + 1:04d}",
                                                                     "amount": 9_000})
        clock.set_now(_at(today - timedelta(days=3), 1))
        commission.settle_due()
        levels.review()
        clock.set_now(_at(today - timedelta(days=2), 20))
        withdrawals.withdraw(people[1], "WDEMO0001", 800)  # paid by the demo's WeChat Pay
        withdrawals.withdraw(people[1], "WDEMO0002", 2_400)  # above 20 yuan: waits for marketing
    finally:
        clock.set_now(previous)
    return ["demo distribution: 3 promoters (test-promoter01..03), 8 fans (test-fan01..08), 10 attributed sales "
            "with settled and pending commission, a refund, a paid withdrawal and one awaiting approval "
            "(GET /api/v1/admin/withdrawals?state=awaiting_approval)"]
