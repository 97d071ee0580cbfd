"""A targeted issue in the demo: 满100减20 sent to the members tagged 咖啡重度, run through the issue job's own
function (no worker runs while the demo seeds), so the console's coupon page (方案 → 优惠券) shows a finished
issue with its progress bar, next to the form that sends another."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from coupons import templates
from coupons.models import CouponIssue
from marketing import issues
from members.tags import unknown_tags

TEMPLATE_CODE = "SAVE20"
TAG = "咖啡重度"
KEY = "demo-coffee-lovers"


def seed() -> list[str]:
    template = templates.template_by_code(TEMPLATE_CODE)
    if template is None or unknown_tags([TAG]):  # the tag comes with the shoppers' history
        return []
    issue = db.session.scalar(select(CouponIssue).where(CouponIssue.template_id == template.id,
                                                        CouponIssue.key == KEY))
    if issue is None:
        issue, _ = issues.create_issue(template.id, {"tags": [TAG]}, KEY, None)
        issues.run_issue(issue.id)
    return [f"targeted issue: {template.title} to the tag {TAG}: {issue.issued} issued "
            f"(console: /console/program/coupons/{template.id})"]
