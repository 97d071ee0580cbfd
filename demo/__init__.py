"""The demo program: each domain's part is seeded by its module here (`seed() -> lines to print`).

Order matters only where one part names another (tier packs and task rewards name coupon templates).
Every seed is idempotent: it looks things up by code before creating them.
"""
from __future__ import annotations

from demo import coupons, mall, members, onboarding, operators, points, reports, shoppers, tasks, vip

PARTS = [operators, coupons, members, vip, points, mall, tasks, shoppers, onboarding, reports]
HISTORY = {shoppers, onboarding}  # the shoppers' months and the old customers: members most tests do not want


def seed(with_history: bool = True) -> list[str]:
    lines: list[str] = []
    for part in PARTS:
        if part in HISTORY and not with_history:
            continue
        lines.extend(part.seed())
    return lines
