"""The marketing dashboard: today and the last 30 days from the report rollups, the daily series as charts,
the lifecycle funnel and the RFM grid, each figure linking to the member list behind it. Every number comes
from the services the JSON API's /admin/reports routes read; nothing is computed here."""
from __future__ import annotations

from datetime import timedelta

from flask import redirect, render_template, url_for

from app import clock
from console import session
from console.blueprint import blp
from marketing import segments
from reports import summary

STAGE_NAMES = {"new": "新会员（未购）", "active": "活跃", "at_risk": "流失预警", "lapsed": "已流失",
               "dormant": "沉睡（从未购买）"}
SEGMENT_NAMES = {"champions": "重要价值", "loyal": "忠诚", "potential_loyalist": "潜力忠诚",
                 "new_customers": "新客", "promising": "有潜力", "need_attention": "需关注",
                 "about_to_sleep": "将沉睡", "at_risk": "流失风险", "cant_lose": "不能失去",
                 "hibernating": "休眠"}
DAYS = 30


@blp.get("/marketing")
@session.requires("marketing", "admin")
def marketing():
    """The marketing home is the dashboard."""
    return redirect(url_for("console.dashboard"))


def _charts(daily: dict) -> dict:
    """The daily series the charts draw (the page's JSON island; console/static/dashboard.js reads it)."""
    items = daily["items"]
    tiers = sorted({cell["tier"] or "" for item in items for cell in item["by_tier"]})
    return {
        "days": [item["day"].isoformat()[5:] for item in items],
        "gmv": [item["gmv"] / 100 for item in items],
        "purchases": [item["purchases_count"] for item in items],
        "members_new": [item["members_new"] for item in items],
        "points_issued": [item["points_issued"] for item in items],
        "points_spent": [item["points_spent"] for item in items],
        "points_expired": [item["points_expired"] for item in items],
        "liability": [item["liability"] / 100 for item in items],
        "coupon_use_rate": [round(item["coupon_use_rate"] * 100, 1) for item in items],
        "repurchase_rate": [round(item["repurchase_rate"] * 100, 1) for item in items],
        "checkins": [item["checkins"] for item in items],
        "invites": [item["invites_count"] for item in items],
        "tiers": tiers,
        "gmv_by_tier": {code: [next((c["gmv"] / 100 for c in item["by_tier"] if (c["tier"] or "") == code), 0)
                               for item in items] for code in tiers},
    }


@blp.get("/marketing/dashboard")
@session.requires("marketing", "admin")
def dashboard():
    today = clock.business_today()
    first = today - timedelta(days=DAYS - 1)
    daily = summary.daily(first, today)
    stages = segments.stage_counts()
    rfm = segments.rfm_report()
    return render_template(
        "console/dashboard.html", today=today, first=first,
        day=summary.summary(today, today), month=summary.summary(first, today), charts=_charts(daily),
        stages=stages, stage_names=STAGE_NAMES, funnel_top=max(stages.values(), default=0) or 1,
        rfm=rfm, segment_names=SEGMENT_NAMES, grid_top=max((c["members"] for c in rfm["grid"]), default=0) or 1,
        super_users=segments.super_users_report(0))
