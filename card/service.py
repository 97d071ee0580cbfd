"""The member card: what the shopper sees of themselves (/me: profile, tier and the next one, points, VIP) and
what a clerk sees after scanning their code (masked, with the usable coupons). It reads across domains, so it
sits above them all; it writes nothing."""
from __future__ import annotations

from coupons import wallet
from members import service as members_service
from points import ledger
from tiers import ladder


def profile(member_id: int) -> dict:
    """What /me shows: the member, their tier and the next one, points and VIP."""
    member = members_service.get_member(member_id)
    return {
        **members_service.identity_fields(member),
        "tier": member.tier,
        "growth": member.growth,
        "next_tier": ladder.next_tier_progress(member),
        "points": ledger.summary(member.id),
        "vip": {"active": member.vip_active(), "until": member.vip_until},
        "invite_code": member.invite_code,
        "created_at": member.created_at,
    }


def scan_summary(member_id: int) -> dict:
    """What the till sees after a scan: masked identity, tier, VIP, points and usable coupons."""
    me = profile(member_id)
    return {
        "id": me["id"],
        "nickname": me["nickname"],
        "phone": me["phone"],
        "tier": me["tier"],
        "vip": me["vip"],
        "points": me["points"],
        "usable_coupons": wallet.usable_for_member(member_id),
    }
