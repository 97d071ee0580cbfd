"""Demo audiences from the seeds' playbook (recall lapsed buyers, pamper super users, birthday month), and
one run of the report jobs so the reports and lifecycle tags show the demo data."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.extensions import db
from marketing import audiences, segments
from marketing.models import Audience
from reports import rollups

AUDIENCES = [
    {"name": "沉睡召回 lapsed & at risk", "description": "Bought before, not for 90+ days: a win-back coupon.",
     "filter": {"lifecycle": ["at_risk", "lapsed"]}},
    {"name": "超级用户 champions & loyal", "description": "The top of the RFM grid: early access, 1-to-1 service.",
     "filter": {"rfm_segments": ["champions", "loyal"]}},
    {"name": "新客首单 new, no purchase", "description": "Joined within 30 days without a first purchase.",
     "filter": {"lifecycle": ["new"]}},
    {"name": "积分大户 1000+ points", "description": "Balances worth spending in the points mall.",
     "filter": {"points_min": 1000}},
]


def seed() -> list[str]:
    lines = []
    segments.recompute_lifecycle()
    segments.compute_rfm()
    segments.compute_koc()
    yesterday = clock.business_today() - timedelta(days=1)
    rollups.rollup_range(yesterday - timedelta(days=29), yesterday)
    for spec in AUDIENCES:
        if db.session.scalar(select(Audience.id).where(Audience.name == spec["name"])) is None:
            audiences.create(spec["name"], spec["filter"], spec["description"])
    for spec in AUDIENCES:
        audience_id = db.session.scalar(select(Audience.id).where(Audience.name == spec["name"]))
        lines.append(f"audience {spec['name']}: {audiences.count(spec['filter'])} members (id {audience_id})")
    lines.append("reports: 30 days rolled up; lifecycle, RFM, KOC computed (GET /api/v1/admin/reports/summary)")
    return lines
