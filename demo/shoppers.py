"""Demo shoppers with eight months of history, so the demo's reports, lifecycle stages, RFM grid, KOC list
and audiences show a living program instead of zeros.

Every step goes through the real services (login, profile, purchases at the till, check-ins, posts,
shares, coupon claims and use, the points mall, a refund) with the clock moved to the moment it happens,
so the ledger, tiers, tasks and coupons are exactly what the product would have written. The history is
drawn from a fixed random seed and written once: a second seed finds the first shopper and skips.

Personas (the seeds' vocabulary): 常客 regulars who buy weekly, check in and post (the super users and
KOC candidates); 偶尔来 occasional buyers; 流失风险 / 沉睡 buyers who stopped 3-8 months ago; 新客 who
joined this month, some invited by a regular, some without a first purchase yet. Log in as any of them in
the demo with `{"code": "test-shopper01"}` ... `test-shopper24`.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import select

from app import clock
from app.errors import ApiError
from app.extensions import db
from app.operators.models import Store
from coupons import wallet
from mall import service as mall
from marketing import tags
from members import member_code
from members import service as members
from members.models import MemberIdentity
from notifications import service as notifications
from tasks import checkin
from tasks import service as tasks
from till import pricing, purchases

SHOPPERS = 24
SKUS = ["LATTE", "AMERICANO", "FLATWHITE", "OOLONG", "MATCHA", "CROISSANT", "CHEESECAKE"]
NAMES = ["小林", "阿芳", "大卫", "Mia", "陈陈", "老周", "Lucy", "王小二", "糖糖", "阿杰", "Coco", "小雨",
         "静静", "Ken", "橙子", "米粒", "阿宝", "Yuki", "豆豆", "小鹿", "Leo", "七七", "木木", "Amy"]
SCENES = ["store-qr", "moments-ad", "live-stream", "wecom-group"]


@dataclass
class Step:
    at: datetime
    run: Callable[[], None]


def _login_code(n: int) -> str:
    return f"test-shopper{n:02d}"


def _moment(day: date, rng: random.Random) -> datetime:
    """A shop-hours instant of a business day (09:00-21:59 business time)."""
    return datetime.combine(day, time(rng.randint(9, 21), rng.randint(0, 59)), tzinfo=clock.business_tz())


class History:
    """The services' calls for one demo history; ids are looked up when a step runs (clock already moved)."""

    def __init__(self, rng: random.Random, today: date):
        self.rng = rng
        self.today = today
        self.stores = list(db.session.scalars(select(Store.id).order_by(Store.id)))
        self.store_codes = list(db.session.scalars(select(Store.code).order_by(Store.id)))
        self.member_ids: dict[int, int] = {}
        self.orders: dict[int, list[tuple[int, str, int]]] = {}
        self.counter = 0

    def join(self, n: int, inviter: int | None = None) -> None:
        invite_code = None
        if inviter is not None:
            invite_code = members.get_member(self.member_ids[inviter]).invite_code
        result = members.wechat_login(_login_code(n), scene=self.rng.choice(SCENES), inviter_code=invite_code)
        member_id = result["member"].id
        self.member_ids[n] = member_id
        birthday = date(self.rng.randint(1975, 2004), self.rng.randint(1, 12), self.rng.randint(1, 28))
        members.update_profile(member_id, {"nickname": NAMES[n - 1], "birthday": birthday})

    def buy(self, n: int, big: bool = False, use_new_member_coupon: bool = False) -> None:
        member_id = self.member_ids[n]
        member = pricing.resolve_member({"member_id": member_id})
        skus = self.rng.sample(SKUS, self.rng.randint(1, 3))
        items = [{"sku": sku, "qty": self.rng.randint(1, 2)} for sku in skus]
        if big:
            items.append({"sku": "TUMBLER", "qty": 1})
        coupon_ids = []
        if use_new_member_coupon:
            coupon_ids = [c["id"] for c in wallet.usable_for_member(member_id) if c["title"].startswith("新人礼")][:1]
        try:
            payable = pricing.build(member, items, coupon_ids, None)["payable"]
        except ApiError:
            coupon_ids = []
            payable = pricing.build(member, items, [], None)["payable"]
        db.session.rollback()
        self.counter += 1
        order_no = f"DEMO{self.counter:05d}"
        store_id = self.rng.choice(self.stores)
        code = member_code.issue(member_id).code  # the shopper shows their code: their coupons may be used
        purchases.record(store_id, None, {"order_no": order_no, "member_code": code, "items": items,
                                          "coupon_ids": coupon_ids, "paid": payable})
        self.orders.setdefault(n, []).append((store_id, order_no, payable))

    def refund_last(self, n: int) -> None:
        store_id, order_no, paid = self.orders[n][-1]
        purchases.refund(store_id, order_no, {"refund_no": f"R{order_no}", "amount": paid})

    def check_in(self, n: int) -> None:
        self._quietly(lambda: checkin.check_in(self.member_ids[n]))

    def complete(self, n: int, code: str, day: date) -> None:
        self._quietly(lambda: tasks.complete(self.member_ids[n], code, f"demo-{code}-{day.isoformat()}"))

    def claim(self, n: int) -> None:
        for item in wallet.claim_center(self.member_ids[n]):
            if item.get("can_claim"):
                self._quietly(lambda item=item: wallet.claim(self.member_ids[n], item["template"]["id"]))
                return

    def redeem(self, n: int) -> None:
        home = self.store_codes[n % len(self.store_codes)]  # where the shopper collects a pickup gift
        for item in mall.catalog_for_member(self.member_ids[n]):
            if item.get("redeemable"):
                self._quietly(lambda item=item: mall.redeem(self.member_ids[n], item["item"].id, 1, store_code=home))
                return

    def tag(self, n: int, tag: str) -> None:
        tags.add_manual_tag(self.member_ids[n], tag)

    @staticmethod
    def _quietly(call: Callable[[], object]) -> None:
        """A refusal the product would show the shopper (cap reached, not enough points) is part of life."""
        try:
            call()
        except ApiError:
            db.session.rollback()


def plan(history: History) -> list[Step]:
    """Every step of the eight months, unordered (the caller sorts by time)."""
    rng, today = history.rng, history.today
    steps: list[Step] = []

    def at(day: date, run: Callable[[], None]) -> None:
        steps.append(Step(_moment(day, rng), run))

    def opening(day: date, n: int, run: Callable[[], None]) -> None:
        """Joins happen at 08:nn, before anything the shopper does that day."""
        steps.append(Step(datetime.combine(day, time(8, n), tzinfo=clock.business_tz()), run))

    def days_ago(n: int) -> date:
        return today - timedelta(days=n)

    personas = (["regular"] * 6 + ["occasional"] * 6 + ["at_risk"] * 4 + ["lapsed"] * 3 + ["new"] * 5)
    for n, persona in enumerate(personas, start=1):
        if persona == "new":
            joined = days_ago(rng.randint(2, 20))
            inviter = rng.choice([1, 2]) if n <= SHOPPERS - 3 else None
            opening(joined, n, lambda n=n, i=inviter: history.join(n, i))
            if n <= SHOPPERS - 2:  # the last two have not bought yet: the "new, no purchase" audience
                at(joined + timedelta(days=1), lambda n=n: history.buy(n, big=True, use_new_member_coupon=True))
            continue
        joined = days_ago(rng.randint(240, 260))
        opening(joined, n, lambda n=n: history.join(n))
        if persona == "regular":
            day = joined + timedelta(days=1)
            at(day, lambda n=n: history.buy(n, big=True, use_new_member_coupon=True))
            while day < today - timedelta(days=1):
                day += timedelta(days=rng.randint(5, 10))
                if day < today:
                    at(day, lambda n=n: history.buy(n))
            for back in range(1, 31):
                if rng.random() < 0.8:
                    at(days_ago(back), lambda n=n: history.check_in(n))
            for back in range(2, 60, 9):
                at(days_ago(back), lambda n=n, d=days_ago(back): history.complete(n, "post", d))
                at(days_ago(back), lambda n=n, d=days_ago(back): history.complete(n, "share", d))
            at(days_ago(rng.randint(3, 10)), lambda n=n: history.redeem(n))
            at(days_ago(rng.randint(20, 40)), lambda n=n: history.claim(n))
        elif persona == "occasional":
            day = joined
            while day < today - timedelta(days=1):
                day += timedelta(days=rng.randint(12, 35))
                if day < today:
                    at(day, lambda n=n: history.buy(n))
            for back in range(1, 31):
                if rng.random() < 0.3:
                    at(days_ago(back), lambda n=n: history.check_in(n))
        else:
            last = rng.randint(100, 170) if persona == "at_risk" else rng.randint(190, 230)
            day = joined
            while day < days_ago(last):
                day += timedelta(days=rng.randint(10, 25))
                at(min(day, days_ago(last)), lambda n=n: history.buy(n))
    steps.append(Step(_moment(days_ago(5), rng), lambda: history.refund_last(3)))
    steps.append(Step(_moment(days_ago(1), rng), lambda: history.tag(1, "咖啡重度")))
    steps.append(Step(_moment(days_ago(1), rng), lambda: history.tag(2, "咖啡重度")))
    return steps


def seed() -> list[str]:
    if not current_app.config.get("TEST_LOGINS"):  # the shoppers are `test-shopperNN` logins: demo mode only
        return ["demo shoppers: skipped (test logins are off outside the demo)"]

    if db.session.scalar(select(MemberIdentity.id).where(MemberIdentity.value == _login_code(1))) is not None:
        return [f"demo shoppers: {SHOPPERS} with history already there (log in as test-shopper01..{SHOPPERS})"]
    today = clock.business_today()
    history = History(random.Random(2026), today)
    steps = sorted(plan(history), key=lambda step: step.at)
    previous = clock.frozen()
    try:
        for step in steps:
            clock.set_now(step.at)
            step.run()
    finally:
        clock.set_now(previous)
    # The history is a simulation: its WeChat messages (points credited months ago...) are news to nobody.
    # Its steps never pass the end of today, so everything it recorded is before tomorrow.
    unsent = notifications.expire_stale(recorded_before=clock.start_of_business_day(today + timedelta(days=1)))
    purchases = sum(len(orders) for orders in history.orders.values())
    return [f"demo shoppers: {SHOPPERS} with {purchases} purchases over eight months "
            f"(log in as test-shopper01..{SHOPPERS}; staff see them at the till); "
            f"{unsent} messages of that history expired unsent"]
