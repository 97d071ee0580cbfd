"""The summary and daily reports: closed days from the rollup tables, days not rolled up yet (today) live.

A range costs a handful of indexed reads of the rollups however large the ledger is; the distinct-member figures
(active members, repurchase rate) are unions of per-day buyer bitmaps.
"""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app import clock, csv_export
from app.errors import ValidationError
from app.extensions import db
from marketing.segments import ratio
from points.ledger import get_policy
from reports import rollups
from reports.models import ReportBuyers, ReportBuyersMonth, ReportDaily, ReportDailyTier

MAX_RANGE_DAYS = 366
ADDITIVE = ("members_new", "purchases_count", "gmv", "refunds_count", "refunds_amount", *rollups.LEDGER_FIGURES,
            "coupons_issued", "coupons_used", "coupons_expired", "redemptions", "checkins", "invites_count",
            "invites_converted")


def check_range(first: date | None, last: date | None) -> tuple[date, date]:
    """Default: the last 30 days up to today. `to` may be today at the latest; at most 366 days."""
    today = clock.business_today()
    last = last or today
    first = first or last - timedelta(days=29)
    if first > last:
        raise ValidationError("from", "Must be on or before `to`.", code="bad_range")
    if last > today:
        raise ValidationError("to", "Must not be after today (business day).", code="bad_range")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise ValidationError("to", f"A range covers at most {MAX_RANGE_DAYS} days.", code="range_too_long")
    return first, last


def liability_fen(outstanding: int) -> int:
    """Outstanding points valued at the policy's redemption rate, in fen (half up)."""
    per_yuan = get_policy().points_per_yuan_value
    return (outstanding * 100 + per_yuan // 2) // per_yuan if per_yuan > 0 else 0


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _daily_rows(first: date, last: date) -> tuple[list[dict], list[date]]:
    """Each day's figures: the stored rollup, or computed live (not stored: a GET writes nothing)."""
    stored = {row.day: rollups._row_dict(row) for row in db.session.scalars(
        select(ReportDaily).where(ReportDaily.day >= first, ReportDaily.day <= last))}
    tiers: dict[date, dict] = {}
    for row in db.session.scalars(select(ReportDailyTier).where(ReportDailyTier.day >= first,
                                                                ReportDailyTier.day <= last)):
        tiers.setdefault(row.day, {})[row.tier_code] = {"purchases_count": row.purchases_count, "gmv": row.gmv}
    rows, live = [], []
    previous = None
    for day in _days(first, last):
        if day in stored:
            row = stored[day] | {"tiers": tiers.get(day, {})}
        else:
            row = rollups.day_figures(day, previous)
            live.append(day)
        rows.append(row)
        previous = row
    return rows, live


def _month_spans(first: date, last: date) -> list[tuple[date, date]]:
    """The calendar months lying wholly inside [first, last], as (first day, last day)."""
    spans, month = [], first.replace(day=1)
    while month <= last:
        following = (month + timedelta(days=32)).replace(day=1)
        if month >= first and following - timedelta(days=1) <= last:
            spans.append((month, following - timedelta(days=1)))
        month = following
    return spans


def _distinct_purchasers(first: date, last: date, live: list[date]) -> tuple[int, int]:
    """(members with 1+ purchases, members with 2+) over the range: the union of buyer bitmaps, month rows for
    whole months that are fully rolled up, day rows for the edges, built from the purchases for live days."""
    stored_days = set(db.session.scalars(select(ReportBuyers.day).where(
        ReportBuyers.day >= first, ReportBuyers.day <= last)))
    months = {}
    spans = _month_spans(first, last)
    if spans:
        months = {row.month: row for row in db.session.scalars(select(ReportBuyersMonth).where(
            ReportBuyersMonth.month.in_([start for start, _ in spans])))}
    covered: set[date] = set()
    units: list[tuple[int, int]] = []
    for start, end in spans:
        row = months.get(start)
        if row is not None and row.days == (end - start).days + 1 and all(d in stored_days for d in _days(start, end)):
            units.append((rollups.unpack(row.buyers), rollups.unpack(row.repeat)))
            covered.update(_days(start, end))
    wanted = sorted(d for d in stored_days if d not in covered)
    blobs = {}
    if wanted:
        blobs = {day: (b, r) for day, b, r in db.session.execute(
            select(ReportBuyers.day, ReportBuyers.buyers, ReportBuyers.repeat).where(ReportBuyers.day.in_(wanted)))}
    for day in _days(first, last):
        if day in covered:
            continue
        if day in blobs:
            units.append((rollups.unpack(blobs[day][0]), rollups.unpack(blobs[day][1])))
        else:  # live (or not rolled up): built from the purchases now
            units.append(rollups.buyer_bitmaps(clock.start_of_business_day(day), clock.end_of_business_day(day)))
    seen, twice = rollups.combine(units)
    return seen.bit_count(), twice.bit_count()


def summary(first: date | None = None, last: date | None = None) -> dict:
    first, last = check_range(first, last)
    rows, live = _daily_rows(first, last)
    totals = {name: sum(int(row[name]) for row in rows) for name in ADDITIVE}
    by_tier: dict[str, dict] = {}
    for row in rows:
        for code, cell in row["tiers"].items():
            into = by_tier.setdefault(code, {"purchases_count": 0, "gmv": 0})
            into["purchases_count"] += cell["purchases_count"]
            into["gmv"] += cell["gmv"]
    buyers, repeat = _distinct_purchasers(first, last, live)
    end_row = rows[-1]
    outstanding = int(end_row["points_outstanding"])
    return {
        "from": first, "to": last,
        "members": {"total": int(end_row["members_total"]), "new": totals["members_new"]},
        "active_members": buyers,
        "purchases": {
            "count": totals["purchases_count"], "gmv": totals["gmv"],
            "refunds": {"count": totals["refunds_count"], "amount": totals["refunds_amount"]},
            "net_gmv": totals["gmv"] - totals["refunds_amount"],
            "by_tier": [{"tier": code or None, "count": cell["purchases_count"], "gmv": cell["gmv"]}
                        for code, cell in sorted(by_tier.items())],
        },
        "repurchase_rate": ratio(repeat, buyers),
        "repeat_purchasers": repeat,
        "points": {
            "issued": totals["points_issued"], "returned": totals["points_returned"],
            "spent": totals["points_spent"], "expired": totals["points_expired"],
            "reversed": totals["points_reversed"], "adjusted_out": totals["points_adjusted_out"],
            "outstanding": outstanding, "liability": liability_fen(outstanding),
        },
        "coupons": {"issued": totals["coupons_issued"], "used": totals["coupons_used"],
                    "expired": totals["coupons_expired"],
                    "use_rate": ratio(totals["coupons_used"], totals["coupons_issued"])},
        "redemptions": totals["redemptions"],
        "checkins": totals["checkins"],
        "invites": {"count": totals["invites_count"], "converted": totals["invites_converted"]},
        "live_days": live,
    }


DAILY_COLUMNS = ("day", "members_total", "members_new", "active_members", "purchases_count", "gmv", "refunds_count",
                 "refunds_amount", "repurchase_rate", *rollups.LEDGER_FIGURES, "points_outstanding", "liability",
                 "coupons_issued", "coupons_used", "coupons_expired", "redemptions", "checkins", "invites_count",
                 "invites_converted")


def daily(first: date | None = None, last: date | None = None) -> dict:
    """The summary's figures per business day; active members and repurchase are within that day."""
    first, last = check_range(first, last)
    rows, live = _daily_rows(first, last)
    items = []
    for row in rows:
        item = {name: row[name] for name in DAILY_COLUMNS
                if name not in ("active_members", "repurchase_rate", "liability")}
        item["active_members"] = int(row["purchasers"])
        item["repurchase_rate"] = ratio(int(row["repeat_purchasers"]), int(row["purchasers"]))
        item["liability"] = liability_fen(int(row["points_outstanding"]))
        item["coupon_use_rate"] = ratio(int(row["coupons_used"]), int(row["coupons_issued"]))
        item["by_tier"] = [{"tier": code or None, "count": cell["purchases_count"], "gmv": cell["gmv"]}
                           for code, cell in sorted(row["tiers"].items())]
        items.append(item)
    return {"from": first, "to": last, "items": items, "live_days": live}


def _flatten(value, prefix: str = "") -> list[tuple[str, object]]:
    if isinstance(value, dict):
        pairs = []
        for key, inner in value.items():
            pairs.extend(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return pairs
    if isinstance(value, list) and value and isinstance(value[0], dict) and "tier" in value[0]:
        return [pair for cell in value for pair in _flatten(
            {"count": cell["count"], "gmv": cell["gmv"]}, f"{prefix}.{cell['tier'] or 'none'}")]
    if isinstance(value, list):
        return [(prefix, " ".join(str(v) for v in value))]
    return [(prefix, value.isoformat() if isinstance(value, date) else value)]


def summary_csv(report: dict) -> str:
    return csv_export.render(["metric", "value"], _flatten(report))


def daily_csv(report: dict) -> str:
    """One row a day; the tier split as two columns per tier seen in the range (a tier code that never
    bought that day is 0), so a spreadsheet can chart it without unpacking nested cells."""
    tiers = sorted({cell["tier"] or "none" for item in report["items"] for cell in item["by_tier"]})
    tier_columns = [f"{what}.{tier}" for tier in tiers for what in ("count", "gmv")]
    rows = []
    for item in report["items"]:
        cells = {f"{what}.{cell['tier'] or 'none'}": cell[what]
                 for cell in item["by_tier"] for what in ("count", "gmv")}
        rows.append([item[c] for c in DAILY_COLUMNS] + [item["coupon_use_rate"]]
                    + [cells.get(column, 0) for column in tier_columns])
    return csv_export.render([*DAILY_COLUMNS, "coupon_use_rate", *tier_columns], rows)


def rows_csv(columns: list[str], rows: list) -> str:
    """Rows given as dicts or objects (ORM rows), one column per name."""
    return csv_export.render(columns, ([row.get(c) if isinstance(row, dict) else getattr(row, c) for c in columns]
                                       for row in rows))


def super_users_csv(report: dict) -> str:
    """The super-user list as the API and the console download it."""
    return rows_csv(["member_id", "spend_12m", "frequency", "segment"], report["top"])


def koc_csv(report: dict) -> str:
    """The KOC ranking as the API and the console download it (nicknames are shoppers' text: csv_export
    keeps a `=...` nickname from running as a formula)."""
    return rows_csv(["rank", "member_id", "nickname", "invites", "converted", "conversion_rate", "posts"],
                    report["items"])
