"""The demo program: each domain's part is seeded by its module here (`seed() -> lines to print`).

Order matters only where one part names another (tier packs and task rewards name coupon templates).
Every seed is idempotent: it looks things up by code before creating them.
"""
from __future__ import annotations

from demo import (
    coupons,
    distribution,
    integrations,
    issues,
    mall,
    members,
    onboarding,
    operators,
    people,
    points,
    reports,
    shoppers,
    tasks,
    vip,
)

PARTS = [operators, coupons, members, vip, points, mall, tasks, shoppers, people, distribution, onboarding, reports,
         issues, integrations]  # integrations last: the history is not sent to the demo's webhook receiver
# the shoppers' months, their tags and promoters, and the old customers: members most tests do not want
HISTORY = {shoppers, people, distribution, onboarding}
LIVE = {integrations}  # the running demo's POS key and webhook receiver: a test's program would send events


def seed(with_history: bool = True) -> list[str]:
    lines: list[str] = []
    for part in PARTS:
        if part in HISTORY | LIVE and not with_history:
            continue
        lines.extend(part.seed())
    return lines
