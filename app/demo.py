"""The demo program: each domain seeds its own part (`<domain>/demo.py: seed() -> lines to print`).

Order matters only where one part names another (tier packs and task rewards name coupon templates).
Every seed is idempotent: it looks things up by code before creating them.
"""
from __future__ import annotations

from app import _optional_module

DEMO_MODULES = [
    "app.operators.demo",
    "coupons.demo",
    "members.demo",
    "members.vip.demo",
    "points.demo",
    "points.mall.demo",
    "tasks.demo",
    "app.demo_shoppers",
    "reports.demo",
]


HISTORY_MODULES = {"app.demo_shoppers"}  # months of shoppers' activity: slow, and not every test wants it


def seed(with_history: bool = True) -> list[str]:
    lines: list[str] = []
    for name in DEMO_MODULES:
        if name in HISTORY_MODULES and not with_history:
            continue
        module = _optional_module(name)
        if module is not None:
            lines.extend(module.seed())
    return lines
