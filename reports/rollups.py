"""Daily rollups: each business day's figures computed once from the ledger, purchases and members.

Every figure group is one small function of a UTC range [start, end) reading one domain's tables, so the
rollup, the summary (today live) and the daily report all count the same way.
`rollup_daily(day)` is idempotent: it deletes the day's rows and inserts them again in one transaction.
"""
from __future__ import annotations

import zlib
from datetime import date, datetime, timedelta

from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import aliased

from app import clock
from app.extensions import db
from coupons.stats import coupon_stats
from mall.models import Redemption
from members.models import Member, Tier
from points.models import LedgerEntry
from reports.models import ReportBuyers, ReportBuyersMonth, ReportDaily, ReportDailyTier
from tasks.models import CheckIn
from till.models import Purchase, Refund

LEDGER_FIGURES = ("points_issued", "points_returned", "points_spent", "points_expired", "points_reversed",
                  "points_adjusted_out")


def _bounds(day: date) -> tuple[datetime, datetime]:
    return clock.start_of_business_day(day), clock.end_of_business_day(day)


# --- figure groups (one per source) -------------------------------------------------------------------

def member_figures(start: datetime, end: datetime) -> dict:
    new = db.session.scalar(select(func.count()).select_from(Member).where(
        Member.created_at >= start, Member.created_at < end))
    return {"members_new": int(new)}


def members_total_at(end: datetime) -> int:
    return int(db.session.scalar(select(func.count()).select_from(Member).where(Member.created_at < end)))


def purchase_figures(start: datetime, end: datetime) -> dict:
    count, gmv = db.session.execute(select(func.count(), func.coalesce(func.sum(Purchase.paid), 0)).where(
        Purchase.created_at >= start, Purchase.created_at < end)).one()
    refunds, refunded = db.session.execute(select(func.count(), func.coalesce(func.sum(Refund.amount), 0)).where(
        Refund.created_at >= start, Refund.created_at < end)).one()
    per_member = (select(Purchase.member_id, func.count().label("n"))
                  .where(Purchase.created_at >= start, Purchase.created_at < end)
                  .group_by(Purchase.member_id).subquery())
    purchasers, repeat = db.session.execute(
        select(func.count(), func.coalesce(func.sum(case((per_member.c.n >= 2, 1), else_=0)), 0))
        .select_from(per_member)).one()
    return {"purchases_count": int(count), "gmv": int(gmv), "refunds_count": int(refunds),
            "refunds_amount": int(refunded), "purchasers": int(purchasers), "repeat_purchasers": int(repeat)}


def tier_figures(start: datetime, end: datetime) -> dict[str, dict]:
    """Purchases and GMV by the buyer's tier at the time this runs ("" = no tier). The tier is a per-row
    scalar subquery on purpose: a join lets PostgreSQL hash the whole members table for a day's purchases."""
    tier_of = (select(Tier.code).join(Member, Member.tier_id == Tier.id)
               .where(Member.id == Purchase.member_id).scalar_subquery())
    rows = (select(func.coalesce(tier_of, "").label("code"), Purchase.paid)
            .where(Purchase.created_at >= start, Purchase.created_at < end).subquery())
    result = db.session.execute(select(rows.c.code, func.count(), func.coalesce(func.sum(rows.c.paid), 0))
                                .group_by(rows.c.code))
    return {tier: {"purchases_count": int(n), "gmv": int(gmv)} for tier, n, gmv in result}


def ledger_figures(start: datetime, end: datetime) -> dict:
    """Credits and debits by kind: issued = earn + grant + positive adjust; returned = refund (spent points
    given back); spent, expired, reversed (earned points taken back) and negative adjust as positive numbers."""
    figures = dict.fromkeys(LEDGER_FIGURES, 0)
    positive = LedgerEntry.delta > 0
    rows = db.session.execute(
        select(LedgerEntry.kind, positive, func.sum(LedgerEntry.delta))
        .where(LedgerEntry.created_at >= start, LedgerEntry.created_at < end).group_by(LedgerEntry.kind, positive))
    for kind, is_credit, total in rows:
        total = int(total or 0)
        if kind in ("earn", "grant") or (kind == "adjust" and is_credit):
            figures["points_issued"] += total
        elif kind == "refund":
            figures["points_returned"] += total
        elif kind == "spend":
            figures["points_spent"] -= total
        elif kind == "expire":
            figures["points_expired"] -= total
        elif kind == "reverse":
            figures["points_reversed"] -= total
        elif kind == "adjust":
            figures["points_adjusted_out"] -= total
    return figures


def net_points(figures: dict) -> int:
    return (figures["points_issued"] + figures["points_returned"] - figures["points_spent"]
            - figures["points_expired"] - figures["points_reversed"] - figures["points_adjusted_out"])


def outstanding_at(end: datetime) -> int:
    """The ledger's sum at an instant (what the points liability is measured on)."""
    return int(db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.delta), 0))
                                 .where(LedgerEntry.created_at < end)))


def coupon_figures(start: datetime, end: datetime) -> dict:
    """Coupons issued, used and expired (ended unused) in the range, counted by the coupons service."""

    stats = coupon_stats(start, end)
    return {"coupons_issued": int(stats["issued"]), "coupons_used": int(stats["used"]),
            "coupons_expired": int(stats["expired"])}


def redemption_figures(start: datetime, end: datetime) -> dict:
    """Points-mall redemptions made in the range, the cancelled ones included: each is one spend entry in the
    ledger, and a cancel shows there as points returned, so the day's figure never changes afterwards."""

    made = db.session.scalar(select(func.count()).select_from(Redemption).where(
        Redemption.created_at >= start, Redemption.created_at < end))
    return {"redemptions": int(made)}


def checkin_figures(start: datetime, end: datetime) -> dict:
    """Daily check-ins made in the range."""

    made = db.session.scalar(select(func.count()).select_from(CheckIn).where(
        CheckIn.created_at >= start, CheckIn.created_at < end))
    return {"checkins": int(made)}


def invite_figures(start: datetime, end: datetime) -> dict:
    """Invitees registered in the range, and invitees whose first purchase fell in the range."""
    invited = db.session.scalar(select(func.count()).select_from(Member).where(
        Member.created_at >= start, Member.created_at < end, Member.invited_by_id.is_not(None)))
    before = aliased(Purchase)
    earlier = exists().where(before.member_id == Purchase.member_id, before.created_at < start)
    inviter = select(Member.invited_by_id).where(Member.id == Purchase.member_id).scalar_subquery()  # no hash join
    converted = db.session.scalar(
        select(func.count(func.distinct(Purchase.member_id)))
        .where(Purchase.created_at >= start, Purchase.created_at < end, inviter.is_not(None), ~earlier))
    return {"invites_count": int(invited), "invites_converted": int(converted)}


FIGURE_GROUPS = (member_figures, purchase_figures, ledger_figures, coupon_figures, redemption_figures,
                 checkin_figures, invite_figures)


def day_figures(day: date, previous: ReportDaily | dict | None = None) -> dict:
    """All of one business day's figures; end-of-day totals chain from the previous day's row when given."""
    start, end = _bounds(day)
    figures: dict = {"day": day}
    for group in FIGURE_GROUPS:
        figures.update(group(start, end))
    if previous is None:
        previous = db.session.get(ReportDaily, day - timedelta(days=1))
    if previous is not None:
        prev = previous if isinstance(previous, dict) else _row_dict(previous)
        figures["members_total"] = prev["members_total"] + figures["members_new"]
        figures["points_outstanding"] = prev["points_outstanding"] + net_points(figures)
    else:
        figures["members_total"] = members_total_at(end)
        figures["points_outstanding"] = outstanding_at(end)
    figures["tiers"] = tier_figures(start, end)
    return figures


def _row_dict(row: ReportDaily) -> dict:
    return {c.name: getattr(row, c.name) for c in ReportDaily.__table__.columns}


# --- the job ------------------------------------------------------------------------------------------

def rollup_daily(day: date | None = None) -> dict:
    """Compute and store one closed business day (default yesterday); running it again replaces the day."""
    day = day or clock.business_today() - timedelta(days=1)
    if day >= clock.business_today():
        raise ValueError(f"{day} is not a closed business day yet")
    start, end = _bounds(day)
    figures = day_figures(day)
    tiers = figures.pop("tiers")
    for table in (ReportDaily, ReportDailyTier, ReportBuyers):  # the month row is rebuilt below
        db.session.execute(table.__table__.delete().where(table.day == day))
    db.session.add(ReportDaily(**figures, computed_at=clock.now()))
    for code, cell in tiers.items():
        db.session.add(ReportDailyTier(day=day, tier_code=code, **cell))
    buyers, repeat = buyer_bitmaps(start, end)
    db.session.add(ReportBuyers(day=day, buyers=pack(buyers), repeat=pack(repeat)))
    db.session.flush()
    rebuild_month(day.replace(day=1))
    db.session.commit()
    return {"scanned": figures["purchases_count"], "changed": 1, "skipped": 0, "failed": 0, "day": day.isoformat()}


def rollup_range(first: date, last: date) -> dict:
    """Backfill or repair several days, oldest first (so each day chains its totals from the one before)."""
    counts = {"scanned": 0, "changed": 0, "skipped": 0, "failed": 0}
    day = first
    while day <= last:
        result = rollup_daily(day)
        counts["scanned"] += result["scanned"]
        counts["changed"] += result["changed"]
        day += timedelta(days=1)
    return counts


def buyer_bitmaps(start: datetime, end: datetime) -> tuple[int, int]:
    """(members with 1+ purchases, members with 2+) in [start, end) as int bitsets over member ids."""
    counts = db.session.execute(select(Purchase.member_id, func.count())
                                .where(Purchase.created_at >= start, Purchase.created_at < end)
                                .group_by(Purchase.member_id)).all()
    if not counts:
        return 0, 0
    size = max(member_id for member_id, _ in counts) // 8 + 1
    buyers, repeat = bytearray(size), bytearray(size)
    for member_id, n in counts:
        buyers[member_id >> 3] |= 1 << (member_id & 7)
        if n >= 2:
            repeat[member_id >> 3] |= 1 << (member_id & 7)
    return int.from_bytes(buyers, "little"), int.from_bytes(repeat, "little")


def combine(units) -> tuple[int, int]:
    """Union of (buyers, repeat) bitsets of consecutive periods: a member is a repeater if they repeat within
    one period or buy in two of them."""
    seen = twice = 0
    for buyers, repeat in units:
        twice |= repeat | (seen & buyers)
        seen |= buyers
    return seen, twice


def rebuild_month(month: date) -> None:
    """Recompute a month's bitmaps from its rolled-up days (within the caller's transaction)."""
    following = (month + timedelta(days=32)).replace(day=1)
    rows = db.session.execute(select(ReportBuyers.buyers, ReportBuyers.repeat).where(
        ReportBuyers.day >= month, ReportBuyers.day < following).order_by(ReportBuyers.day)).all()
    seen, twice = combine((unpack(b), unpack(r)) for b, r in rows)
    db.session.execute(ReportBuyersMonth.__table__.delete().where(ReportBuyersMonth.month == month))
    db.session.add(ReportBuyersMonth(month=month, buyers=pack(seen), repeat=pack(twice), days=len(rows)))


def pack(bits: int) -> bytes:
    return zlib.compress(bits.to_bytes((bits.bit_length() + 7) // 8, "little"), 1)


def unpack(blob: bytes) -> int:
    return int.from_bytes(zlib.decompress(blob), "little")
