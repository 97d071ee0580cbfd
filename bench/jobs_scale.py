"""Four jobs as the data grows (issue 20), before and after, side by side in one run (PostgreSQL).

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<scratch db> BENCH_REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/python bench/jobs_scale.py [--members 1000000] [--reviews 100000] [--before-share 1.0]
                                             [--only review,vip,koc,verify] [--reuse]

It drops and recreates every table of that database (never point it at real data), seeds the demo program
without its shoppers and loads with generate_series (N members):
- review: R members (every N/R-th) silver since a year ago, due for review today, half of them having earned
  600 in the period (kept) and half 100 (down to normal, growth reset); every member has growth log rows;
  the tier-changed message has a template, so each downgrade records its notification;
- VIP: every 5th member bought a VIP; half of those periods ended yesterday (N/10 expiring), one in ten of
  the expiring members renewed (a second, active period: the tag stays); every VIP member has the tag;
- KOC: one member in ten was invited (by N/50 inviters), half of the invitees bought; one member in ten
  posted five times; every other member has two check-ins;
- verify: three grants and three open lots per member, the accounts in step.

Each job runs first as the code this branch replaced (kept below, verbatim but for names, to be measured),
then as the code in the packages, on the same data (what a run changed is put back in between). For each it
prints the client's CPU (time.process_time), the PostgreSQL backend's CPU (/proc of the one pooled
connection's backend: the server must run on this machine) and the wall time. `--before-share 0.1` runs the
old review and the old VIP expiry over the first tenth of the members only (and scales their figures to the
full size, saying so): at 100k due members the old review takes minutes.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date, timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import func, select, text, update  # noqa: E402

from app import clock  # noqa: E402
from app.extensions import db  # noqa: E402
from server import create_app  # noqa: E402

DAY = date(2026, 5, 20)  # the review day; the VIP periods that end before it expire


# --- the code this branch replaced (for the "before" figures) ----------------------------------------

def before_review_tiers(day: date, batch_size: int = 500) -> dict:
    """tiers.review.review_tiers before: a savepoint, a lock, a lazy tier load and a SUM per member."""
    from members.models import Member
    from tiers.growth import REVIEW_RESET, change_tier, lock_member, period_growth
    from tiers.ladder import get_policy, ladder, next_review_on
    from tiers.models import GrowthEvent

    def review_one(member_id: int, mode: str) -> bool:
        member = lock_member(member_id)
        if member.tier_review_on is None or member.tier_review_on > day or member.tier is None:
            return False
        review_day = member.tier_review_on
        cutoff = clock.start_of_business_day(review_day)
        current = member.tier
        earned = period_growth(member, cutoff)
        if earned >= current.retention_threshold:
            member.tier_period_start = cutoff
            member.tier_review_on = next_review_on(current, review_day)
            return False
        below = [t for t in ladder() if t.rank < current.rank]
        if not below:
            member.tier_review_on = None
            return False
        if mode == "to_supported":
            supported = [t for t in below if t.retention_threshold <= earned]
            target = supported[-1] if supported else below[0]
        else:
            target = below[-1]
        if member.growth > target.growth_threshold:
            db.session.add(GrowthEvent(member_id=member.id, delta=target.growth_threshold - member.growth,
                                       growth_after=target.growth_threshold, reason=REVIEW_RESET,
                                       ref=review_day.isoformat(), created_at=clock.now()))
            member.growth = target.growth_threshold
        change_tier(member, target, "review", review_day.isoformat(), cutoff, review_day)
        return True

    mode = get_policy().downgrade_mode
    counts, last_id = {"scanned": 0, "changed": 0, "skipped": 0, "failed": 0}, 0
    while True:
        ids = list(db.session.scalars(select(Member.id).where(Member.tier_review_on <= day, Member.id > last_id)
                                      .order_by(Member.id).limit(batch_size)))
        if not ids:
            break
        for member_id in ids:
            counts["scanned"] += 1
            with db.session.begin_nested():
                changed = False
                for _ in range(20):
                    changed = review_one(member_id, mode) or changed
                    member = db.session.get(Member, member_id)
                    if member.tier_review_on is None or member.tier_review_on > day:
                        break
            counts["changed" if changed else "skipped"] += 1
        db.session.commit()
        last_id = ids[-1]
    return counts


def before_expire_vips(cutoff, batch_size: int = 500) -> dict:
    """vip.service.expire_vips before: two lookups per period and an ORM delete per tag."""
    from members.models import Member, MemberTag
    from vip.models import VipPeriod

    counts, last_id = {"scanned": 0, "changed": 0, "skipped": 0, "failed": 0}, 0
    while True:
        periods = list(db.session.scalars(
            select(VipPeriod).where(VipPeriod.state == "active", VipPeriod.ends_at <= cutoff, VipPeriod.id > last_id)
            .order_by(VipPeriod.id).limit(batch_size)))
        if not periods:
            break
        for period in periods:
            counts["scanned"] += 1
            period.state = "ended"
            member = db.session.get(Member, period.member_id)
            if member.vip_until is None or member.vip_until <= cutoff:
                tag = db.session.get(MemberTag, (member.id, "vip"))
                if tag is not None:
                    db.session.delete(tag)
            counts["changed"] += 1
        db.session.commit()
        last_id = periods[-1].id
    return counts


def before_compute_koc(day: date) -> dict:
    """marketing.segments.compute_koc before: one UPDATE (or ORM insert) per posting member."""
    from sqlalchemy import Date, case, exists, literal

    from marketing.models import KocScore
    from members.models import Member
    from tasks.models import TaskCompletion, TaskDefinition
    from till.models import Purchase

    end = clock.end_of_business_day(day)
    bought = exists().where(Purchase.member_id == Member.id, Purchase.created_at < end)
    rows = (select(Member.invited_by_id, func.count(), func.sum(case((bought, 1), else_=0)), literal(0),
                   literal(day, type_=Date))
            .where(Member.invited_by_id.is_not(None), Member.created_at < end).group_by(Member.invited_by_id))
    db.session.execute(KocScore.__table__.delete())
    db.session.execute(KocScore.__table__.insert().from_select(
        ["member_id", "invites", "converted", "posts", "computed_on"], rows))
    inviters = set(db.session.scalars(select(KocScore.member_id)))
    posts_by_member = db.session.execute(
        select(TaskCompletion.member_id, func.count()).join(TaskDefinition, TaskDefinition.id == TaskCompletion.task_id)
        .where(TaskDefinition.kind == "post", TaskCompletion.created_at < end).group_by(TaskCompletion.member_id))
    for member_id, posts in posts_by_member:
        if member_id in inviters:
            db.session.execute(update(KocScore).where(KocScore.member_id == member_id).values(posts=posts))
        else:
            db.session.add(KocScore(member_id=member_id, invites=0, converted=0, posts=posts, computed_on=day))
    db.session.flush()
    scanned = db.session.scalar(select(func.count()).select_from(KocScore))
    db.session.commit()
    return {"scanned": scanned, "changed": scanned, "skipped": 0, "failed": 0}


def before_verify() -> list[dict]:
    """points.ledger.verify before: three grouped reads into dicts and every account as an ORM object."""
    from points.models import LedgerEntry, PointsAccount, PointsLot

    ledger = dict(db.session.execute(
        select(LedgerEntry.member_id, func.sum(LedgerEntry.delta)).group_by(LedgerEntry.member_id)).all())
    lots: dict[int, dict[str, int]] = {}
    for member_id, state, total in db.session.execute(
        select(PointsLot.member_id, PointsLot.state, func.sum(PointsLot.remaining))
        .where(PointsLot.state.in_(("open", "pending"))).group_by(PointsLot.member_id, PointsLot.state)
    ):
        lots.setdefault(member_id, {})[state] = int(total)
    accounts = {a.member_id: a for a in db.session.scalars(select(PointsAccount))}
    drifts = []
    for member_id in sorted(set(ledger) | set(lots) | set(accounts)):
        account = accounts.get(member_id)
        available, pending, debt = (account.available, account.pending, account.debt) if account else (0, 0, 0)
        facts = {"ledger_sum": int(ledger.get(member_id, 0)), "account_balance": available + pending - debt,
                 "open_lots": lots.get(member_id, {}).get("open", 0), "available": available,
                 "pending_lots": lots.get(member_id, {}).get("pending", 0), "pending": pending, "debt": debt}
        problems = []
        if facts["ledger_sum"] != facts["account_balance"]:
            problems.append("ledger sum != available + pending - debt")
        if facts["open_lots"] != available:
            problems.append("open lots != available")
        if facts["pending_lots"] != pending:
            problems.append("pending lots != pending")
        if debt and available:
            problems.append("debt while points are available")
        if problems:
            drifts.append({"member_id": member_id, "problems": problems, **facts})
    db.session.rollback()  # let go of the million objects
    return drifts


# --- the data -----------------------------------------------------------------------------------------

def run_sql(*statements: str, **params) -> None:
    for statement in statements:
        db.session.execute(text(statement), params)
    db.session.commit()


def load(members: int, reviews: int) -> None:
    import demo

    db.drop_all()
    run_sql("DROP TABLE IF EXISTS alembic_version")
    db.create_all()
    demo.seed(with_history=False)
    tiers = dict(db.session.execute(text("SELECT code, id FROM tiers")).all())
    plan_id = db.session.execute(text("SELECT id FROM vip_plans ORDER BY id LIMIT 1")).scalar_one()
    store_id = db.session.execute(text("SELECT id FROM stores ORDER BY id LIMIT 1")).scalar_one()
    tasks = dict(db.session.execute(text("SELECT kind, min(id) FROM task_definitions GROUP BY kind")).all())
    started = time.perf_counter()
    now = clock.start_of_business_day(DAY)
    params = {"n": members, "step": members // reviews, "silver": tiers["silver"], "normal": tiers["normal"],
              "t0": now - timedelta(days=700), "start": now - timedelta(days=365), "now": now,
              "plan": plan_id, "store": store_id, "post": tasks["post"], "checkin": tasks["checkin"]}
    run_sql(
        """INSERT INTO members (id, gender, tier_id, growth, invite_code, created_at, invited_by_id, purchase_count)
           SELECT i, 0, :normal, 100, 'B' || lpad(i::text, 9, '0'), :t0 + (i % 600) * interval '1 day',
                  CASE WHEN i % 10 = 1 AND i > 10 THEN 1 + (abs(hashint4(i)) % (:n / 50)) END,
                  CASE WHEN i % 10 IN (1, 3, 5) THEN 1 ELSE 0 END
           FROM generate_series(1, CAST(:n AS int)) AS i""",
        "SELECT setval('members_id_seq', :n)",
        """INSERT INTO growth_events (member_id, delta, growth_after, reason, ref, created_at)
           SELECT i, 50, 50 * k, 'purchase', 'g' || k, :t0 + (i % 600 + k) * interval '1 day'
           FROM generate_series(1, CAST(:n AS int)) AS i, generate_series(1, 2) AS k WHERE i % :step <> 0""",
        """INSERT INTO points_ledger (member_id, delta, kind, business_key, cause_type, balance_after, created_at)
           SELECT i, 100, 'grant', 'b:' || i || ':' || k, 'grant', 100 * k, :t0 + k * interval '1 day'
           FROM generate_series(1, CAST(:n AS int)) AS i, generate_series(1, 3) AS k""",
        """INSERT INTO points_lots (member_id, entry_id, amount, remaining, state, available_at, expires_at, created_at)
           SELECT member_id, id, 100, 100, 'open', created_at, NULL, created_at FROM points_ledger""",
        """INSERT INTO points_accounts (member_id, available, pending, debt, updated_at)
           SELECT id, 300, 0, 0, :now FROM members""",
        """INSERT INTO purchases (store_id, order_no, member_id, request_hash, subtotal, coupon_discount, points_used,
                  points_value, paid, points_earned, growth_added, refunded_amount, refunded_full, created_at)
           SELECT :store, 'O' || i, i, 'h', 5000, 0, 0, 0, 5000, 50, 50, 0, false, :t0 + (i % 600) * interval '1 day'
           FROM generate_series(1, CAST(:n AS int)) AS i WHERE i % 10 IN (1, 3, 5)""",
        """INSERT INTO task_completions (task_id, member_id, ref, period_key, slot, business_day, points, growth,
                  created_at)
           SELECT :post, i, 'p' || k, 'p' || k, 0, date '2025-01-01' + k, 10, 0, :t0 + k * interval '1 day'
           FROM generate_series(1, CAST(:n AS int)) AS i, generate_series(1, 5) AS k WHERE i % 10 = 3""",
        """INSERT INTO task_completions (task_id, member_id, ref, period_key, slot, business_day, points, growth,
                  created_at)
           SELECT :checkin, i, 'c' || k, 'c' || k, 0, date '2025-01-01' + k, 5, 0, :t0 + k * interval '1 day'
           FROM generate_series(1, CAST(:n AS int)) AS i, generate_series(1, 2) AS k WHERE i % 2 = 0""",
        """INSERT INTO vip_orders (order_no, member_id, plan_id, amount, duration_days, state, transaction_id, paid_at,
                  created_at)
           SELECT 'V' || i, i, :plan, 29900, 365, 'paid', 'T' || i, :start, :start
           FROM generate_series(1, CAST(:n AS int)) AS i WHERE i % 5 = 2""",
        """INSERT INTO vip_orders (order_no, member_id, plan_id, amount, duration_days, state, transaction_id, paid_at,
                  created_at)
           SELECT 'R' || i, i, :plan, 29900, 365, 'paid', 'TR' || i, :start, :start
           FROM generate_series(1, CAST(:n AS int)) AS i WHERE i % 100 = 2""",
        **params)
    run_sql(
        """INSERT INTO vip_periods (member_id, order_id, plan_id, starts_at, ends_at, state, created_at)
           SELECT member_id, id, plan_id, :start,
                  CASE WHEN member_id % 10 = 2 THEN :now - interval '1 hour' ELSE :now + interval '180 days' END,
                  'active', :start
           FROM vip_orders WHERE order_no LIKE 'V%'""",
        """INSERT INTO vip_periods (member_id, order_id, plan_id, starts_at, ends_at, state, created_at)
           SELECT member_id, id, plan_id, :now - interval '1 hour', :now + interval '364 days', 'active', :start
           FROM vip_orders WHERE order_no LIKE 'R%'""",
        """UPDATE members m SET vip_until = p.until FROM (SELECT member_id, max(ends_at) AS until FROM vip_periods
           GROUP BY member_id) p WHERE m.id = p.member_id""", **params)
    reset_reviews(members // reviews)
    reset_vips()
    run_sql("ANALYZE")
    print(f"loaded {members} members in {time.perf_counter() - started:.0f} s")


def reset_reviews(step: int, due_until: int | None = None) -> None:
    """The reviewed members as loaded (silver, due today), members past `due_until` not due; nothing the
    review wrote left."""
    now = clock.start_of_business_day(DAY)
    tiers = dict(db.session.execute(text("SELECT code, id FROM tiers")).all())
    run_sql(
        "DELETE FROM tier_changes", "DELETE FROM notifications",
        "DELETE FROM growth_events WHERE member_id % :step = 0",
        """INSERT INTO growth_events (member_id, delta, growth_after, reason, ref, created_at)
           SELECT i, 1000, 1000, 'purchase', 'up', :start - interval '10 days'
           FROM generate_series(CAST(:step AS int), CAST(:n AS int), CAST(:step AS int)) AS i""",
        """INSERT INTO growth_events (member_id, delta, growth_after, reason, ref, created_at)
           SELECT i, CASE WHEN i / :step % 2 = 0 THEN 600 ELSE 100 END,
                  1000 + CASE WHEN i / :step % 2 = 0 THEN 600 ELSE 100 END, 'purchase', 'in',
                  :start + interval '100 days'
           FROM generate_series(CAST(:step AS int), CAST(:n AS int), CAST(:step AS int)) AS i""",
        """UPDATE members SET tier_id = :silver, tier_period_start = :start,
                  growth = 1000 + CASE WHEN id / :step % 2 = 0 THEN 600 ELSE 100 END,
                  tier_review_on = CASE WHEN id <= :due_until THEN CAST(:day AS date) ELSE CAST(:day AS date) + 1 END
           WHERE id % :step = 0""",
        n=db.session.execute(text("SELECT max(id) FROM members")).scalar_one(), step=step, now=now,
        start=now - timedelta(days=365), silver=tiers["silver"], day=DAY,
        due_until=due_until if due_until is not None else 2**62)


def reset_vips() -> None:
    run_sql("UPDATE vip_periods SET state = 'active' WHERE state <> 'active'",
            """INSERT INTO member_tags (member_id, tag, source, created_at)
               SELECT DISTINCT member_id, 'vip', 'auto', now() FROM vip_periods ON CONFLICT DO NOTHING""")


# --- measuring ----------------------------------------------------------------------------------------

def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one PostgreSQL backend so far."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(label: str, fn, *args) -> tuple[float, float, float]:
    pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    db.session.commit()
    pg, cpu, wall = backend_cpu(pid), time.process_time(), time.perf_counter()
    result = fn(*args)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    after = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    db.session.commit()
    pg = backend_cpu(pid) - pg
    shown = result if isinstance(result, dict) else f"{len(result)} drifts"
    print(f"  {label:<8} client CPU {cpu:8.2f} s   PostgreSQL CPU {pg:8.2f} s   wall {wall:8.2f} s   {shown}"
          + ("" if after == pid else "   (the backend changed: its CPU is not comparable)"), flush=True)
    return cpu, pg, wall


def side_by_side(name: str, before: tuple, after: tuple, scale: float = 1.0) -> str:
    """One line of the table; `scale` projects a partial before-run to the full size."""
    b = tuple(value * scale for value in before)
    note = f" (before: measured on {1 / scale:.0%} of the rows, scaled)" if scale != 1.0 else ""
    return (f"| {name}{note} | {b[0]:.1f} / {after[0]:.1f} s | {b[1]:.1f} / {after[1]:.1f} s "
            f"| {b[2]:.1f} / {after[2]:.1f} s | {(b[0] + b[1]) / max(after[0] + after[1], 1e-9):.1f}x |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--reviews", type=int, default=100_000)
    parser.add_argument("--before-share", type=float, default=1.0, help="of the members, for the old review and VIP")
    parser.add_argument("--only", default="review,vip,koc,verify")
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    url = os.environ["BENCH_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    overrides = {"SQLALCHEMY_DATABASE_URI": url, "DEMO_DIR": tempfile.mkdtemp(),
                 "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 1, "max_overflow": 0},  # one backend to measure
                 "WECHAT_TEMPLATE_TIER_CHANGED": "bench-tier-template"}
    if os.environ.get("BENCH_REDIS_URL"):
        os.environ["TEST_REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    app = create_app("test", overrides)
    only = set(args.only.split(","))
    rows = []
    with app.app_context():
        from marketing import segments
        from points import ledger
        from tiers import review
        from vip import service as vip

        if not args.reuse:
            load(args.members, args.reviews)
        members = db.session.execute(text("SELECT count(*) FROM members")).scalar_one()
        step = members // args.reviews
        clock.set_now(clock.start_of_business_day(DAY) + timedelta(hours=2))
        print(f"{members} members; load average {os.getloadavg()}")
        if "review" in only:
            due_until = int(members * args.before_share)
            reset_reviews(step, due_until)
            due = db.session.execute(text("SELECT count(*) FROM members WHERE tier_review_on <= :d"),
                                     {"d": DAY}).scalar_one()
            print(f"review_tiers: {due} members due before, {args.reviews} after")
            before = measure("before", before_review_tiers, DAY)
            reset_reviews(step)
            after = measure("after", review.review_tiers, DAY)
            changes = db.session.execute(text("SELECT count(*) FROM tier_changes")).scalar_one()
            messages = db.session.execute(text("SELECT count(*) FROM notifications")).scalar_one()
            print(f"  after: {changes} tier changes, {messages} notifications")
            rows.append(side_by_side(f"review_tiers, {args.reviews:,} due", before, after, args.reviews / due))
        if "vip" in only:
            cutoff = clock.now()
            reset_vips()
            expiring = db.session.execute(text("SELECT count(*) FROM vip_periods WHERE ends_at <= :c"),
                                          {"c": cutoff}).scalar_one()
            run_sql("UPDATE vip_periods SET state = 'held' WHERE ends_at <= :c AND member_id > :m",
                    c=cutoff, m=int(members * args.before_share))  # out of the before-run's reach
            held = db.session.execute(text("SELECT count(*) FROM vip_periods WHERE state = 'held'")).scalar_one()
            print(f"expire_vips: {expiring - held} periods expiring before, {expiring} after")
            before = measure("before", before_expire_vips, cutoff)
            tags_before = db.session.execute(text("SELECT count(*) FROM member_tags WHERE tag = 'vip'")).scalar_one()
            reset_vips()
            after = measure("after", vip.expire_vips, DAY)
            tags_after = db.session.execute(text("SELECT count(*) FROM member_tags WHERE tag = 'vip'")).scalar_one()
            print(f"  vip tags left: before {tags_before}, after {tags_after}")
            scale = expiring / (expiring - held)
            rows.append(side_by_side(f"expire_vips, {expiring:,} expiring", before, after, scale))
        if "koc" in only:
            yesterday = DAY - timedelta(days=1)
            before = measure("before", before_compute_koc, yesterday)
            old = db.session.execute(text("SELECT md5(string_agg(concat_ws(',', member_id, invites, converted, posts),"
                                          " ';' ORDER BY member_id)) FROM koc_scores")).scalar_one()
            after = measure("after", segments.compute_koc, yesterday)
            new = db.session.execute(text("SELECT md5(string_agg(concat_ws(',', member_id, invites, converted, posts),"
                                          " ';' ORDER BY member_id)) FROM koc_scores")).scalar_one()
            print(f"  the same scores: {old == new}")
            rows.append(side_by_side("compute_koc", before, after))
        if "verify" in only:
            before = measure("before", before_verify)
            after = measure("after", ledger.verify)
            rows.append(side_by_side("points verify", before, after))
        print(f"load average after: {os.getloadavg()}")
    print(f"\n{members:,} members; before / after\n")
    print("| job | client CPU | PostgreSQL CPU | wall | total CPU, before / after |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
