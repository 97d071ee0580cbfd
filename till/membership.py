"""Membership multipliers: what a member's tier and paid VIP add to the base points of a purchase."""

import logging
from datetime import date

from app.errors import NotFound
from app.extensions import db
from members.models import Member
from tiers.ladder import tier_of
from vip import service as vip_service

log = logging.getLogger(__name__)

# --- membership multipliers ---------------------------------------------------------------------------

def membership_multipliers(member_id: int, day: date) -> list[dict]:
    """Named points multipliers (percent, 100 = x1) membership gives on business day `day`: the tier's,
    and while a paid VIP is active, the plan's and its VIP day's extra multiplier."""

    member = db.session.get(Member, member_id)
    if member is None:
        raise NotFound("No such member.", code="member_not_found")
    found: list[dict] = []
    tier = tier_of(member)
    if tier is not None:
        percent = int((tier.benefits or {}).get("points_multiplier_percent", 100))
        found.append({"name": f"tier:{tier.code}", "percent": percent})
    found.extend(vip_service.multipliers(member, day))
    return found
