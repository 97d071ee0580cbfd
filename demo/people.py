"""The marketing console's people, as a brand's marketer leaves them after a few weeks: a community tag put on
by CSV (the 社群 members of the shoppers' history), one member's tag typed by hand and a compensation adjusted
with its reason, so the console's tag list, member pages, ledger and audit log have something to show. Runs
after the shoppers (it names them) and through the real services; re-running it changes nothing."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from marketing import tags
from members.models import Member, MemberIdentity, MemberTag
from points import adjustments

COMMUNITY_TAG = "社群活跃"
SERVICE_TAG = "门店客诉"
COMPENSATION = 200


def _shopper(n: int) -> int | None:
    return db.session.scalar(select(MemberIdentity.member_id).where(MemberIdentity.value == f"test-shopper{n:02d}"))


def seed() -> list[str]:
    first = _shopper(1)
    if first is None:  # no shoppers' history (outside the demo)
        return []
    if db.session.scalar(select(MemberTag.member_id).where(MemberTag.tag == COMMUNITY_TAG).limit(1)) is None:
        community = db.session.scalars(select(Member.id).where(Member.source_channel == "wecom-group")).all()
        csv = "member_id\n" + "".join(f"{member_id}\n" for member_id in community)
        tags.bulk_tag(COMMUNITY_TAG, csv.encode())
    tags.add_manual_tag(first, SERVICE_TAG)
    adjustments.adjust(first, COMPENSATION, "门店客诉补偿：拿铁出品慢", "demo-compensation")
    tagged = db.session.scalar(select(db.func.count()).select_from(MemberTag).where(MemberTag.tag == COMMUNITY_TAG))
    return [f"people: {tagged} members tagged {COMMUNITY_TAG} by CSV; test-shopper01 tagged {SERVICE_TAG} and given "
            f"{COMPENSATION} points with a reason (console: 会员, 标签, 操作日志)"]
