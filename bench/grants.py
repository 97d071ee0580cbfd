"""Birthday gifts at 1,000,000 members and monthly packs to 100,000 VIPs, first run and re-run (PostgreSQL).

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<scratch db> BENCH_REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/grants.py [--members 1000000] [--vips 100000] [--reuse]

It drops and recreates every table of that database (never point it at real data), seeds the demo program
(tiers, coupon templates, the VIP plan) and loads with generate_series:
- N members with points accounts, birthdays spread over the 365 days of 1990 (about N/365 due on 20 May);
  members 1..V are silver (birthday: 300 points + a coupon; monthly pack: 1 coupon), the rest normal (100 points);
- V paid VIP periods (members 1..V) covering 2026, so the VIP pack goes to V members too.
Then it times the birthday job for 2026-05-20 and the monthly-pack job for 2026-05 (tier pack to the V
silver members + VIP pack to the V VIPs: 2V coupons), each run twice (the re-run must grant nothing), and
checks the ledger (points.ledger.verify) and the grant counts. Figures are printed, never asserted.
`--reuse` keeps the loaded members and only deletes what the jobs wrote.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import text  # noqa: E402

from app import clock  # noqa: E402
from app.extensions import db  # noqa: E402
from server import create_app  # noqa: E402

JOB_TABLES = ("notifications", "points_lots", "points_ledger", "coupons", "benefit_grants")


def load(members: int, vips: int) -> None:
    import demo

    db.drop_all()
    db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
    db.session.commit()
    db.create_all()
    demo.seed(with_history=False)  # the program only: the demo shoppers would collide with the generated ids
    tiers = dict(db.session.execute(text("SELECT code, id FROM tiers")).all())
    plan_id = db.session.execute(text("SELECT id FROM vip_plans WHERE code = 'annual'")).scalar_one()
    started = time.perf_counter()
    db.session.execute(text("""
        INSERT INTO members (gender, birthday, tier_id, growth, invite_code, created_at, tier_period_start)
        SELECT 0, date '1990-01-01' + ((i::bigint * 7919) % 365)::int,
               CASE WHEN i <= :vips THEN :silver ELSE :normal END, CASE WHEN i <= :vips THEN 1000 ELSE 0 END,
               'B' || lpad(i::text, 9, '0'), now(), now()
        FROM generate_series(1, :members) AS i"""),
        {"members": members, "vips": vips, "silver": tiers["silver"], "normal": tiers["normal"]})
    db.session.execute(text("INSERT INTO points_accounts (member_id, available, pending, debt, updated_at) "
                            "SELECT id, 0, 0, 0, now() FROM members"))
    db.session.execute(text("""
        INSERT INTO vip_orders (order_no, member_id, plan_id, amount, duration_days, state, transaction_id, paid_at,
                                created_at)
        SELECT 'VIPB' || i, i, :plan, 29900, 365, 'paid', 'T' || i, '2026-01-01', '2026-01-01'
        FROM generate_series(1, :vips) AS i"""), {"plan": plan_id, "vips": vips})
    db.session.execute(text("""
        INSERT INTO vip_periods (member_id, order_id, plan_id, starts_at, ends_at, state, created_at)
        SELECT member_id, id, plan_id, '2026-01-01', '2027-01-01', 'active', '2026-01-01' FROM vip_orders"""))
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    print(f"loaded {members} members, {vips} silver VIPs in {time.perf_counter() - started:.0f} s")


def timed(label: str, fn, *args) -> dict:
    started = time.perf_counter()
    counts = fn(*args)
    elapsed = time.perf_counter() - started
    print(f"{label}: {elapsed:.2f} s {counts}")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--vips", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    url = os.environ["BENCH_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    overrides = {"SQLALCHEMY_DATABASE_URI": url, "DEMO_DIR": tempfile.mkdtemp()}
    if os.environ.get("BENCH_REDIS_URL"):
        os.environ["TEST_REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    app = create_app("test", overrides)
    with app.app_context():
        from benefits import grants
        from points import ledger as ledger

        if args.reuse:
            db.session.execute(text("TRUNCATE " + ", ".join(JOB_TABLES) + " CASCADE"))
            db.session.execute(text("UPDATE points_accounts SET available = 0, pending = 0, debt = 0"))
            db.session.execute(text("UPDATE coupon_templates SET issued_count = 0"))
            db.session.commit()
        else:
            load(args.members, args.vips)
        print(f"load average before: {os.getloadavg()}")
        clock.set_now(clock.start_of_business_day(date(2026, 5, 20)).replace(hour=2))
        due, total, vips = db.session.execute(text(
            "SELECT count(*) FILTER (WHERE extract(month FROM birthday) = 5 AND extract(day FROM birthday) = 20), "
            "count(*), (SELECT count(*) FROM vip_periods) FROM members")).one()
        print(f"birthdays on 20 May: {due} of {total} members; {vips} VIPs")
        timed("birthday job, first run", grants.grant_birthday_gifts, date(2026, 5, 20))
        timed("birthday job, re-run", grants.grant_birthday_gifts, date(2026, 5, 20))
        clock.set_now(clock.start_of_business_day(date(2026, 5, 1)).replace(hour=2))
        timed("monthly packs (tier + VIP), first run", grants.grant_monthly_packs, "2026-05")
        timed("monthly packs (tier + VIP), re-run", grants.grant_monthly_packs, "2026-05")
        print(f"load average after: {os.getloadavg()}")
        figures = db.session.execute(text(
            "SELECT (SELECT count(*) FROM benefit_grants), (SELECT count(*) FROM coupons), "
            "(SELECT count(*) FROM points_ledger), (SELECT count(*) FROM notifications)")).one()
        print(f"benefit_grants {figures[0]}, coupons {figures[1]}, ledger rows {figures[2]}, "
              f"notifications {figures[3]}; ledger drift: {len(ledger.verify())} members")


if __name__ == "__main__":
    main()
