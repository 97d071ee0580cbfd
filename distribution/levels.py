"""The fan-group ladder's review (粉丝团): a promoter rises to the highest level whose fans (bound shoppers who
bought) or attributed GMV (refunds deducted) they have reached; a threshold of 0 is not asked. Levels only
rise: a refund or a quiet month does not take a rank back. Every change is kept in the level history.
"""
from __future__ import annotations

from sqlalchemy import select

from app import clock
from app.extensions import db
from app.jobs import batch_done, zero_counts
from distribution.models import LevelChange, Promoter, PromoterLevel

REVIEW_BATCH = 1000


def reached(level: PromoterLevel, fans: int, gmv: int) -> bool:
    if not level.min_fans and not level.min_gmv:
        return True
    return bool(level.min_fans and fans >= level.min_fans) or bool(level.min_gmv and gmv >= level.min_gmv)


def review(batch_size: int = REVIEW_BATCH) -> dict:
    """The job: every active promoter whose figures reach a higher level moves up, with a history row."""
    levels = list(db.session.scalars(select(PromoterLevel).order_by(PromoterLevel.rank)))
    rank_of = {level.id: level.rank for level in levels}
    counts, last_id = zero_counts(), 0
    while levels:
        promoters = list(db.session.scalars(
            select(Promoter).where(Promoter.state == "active", Promoter.id > last_id).order_by(Promoter.id)
            .limit(batch_size).with_for_update()))
        if not promoters:
            break
        for promoter in promoters:
            counts["scanned"] += 1
            target = next((level for level in reversed(levels) if reached(level, promoter.fans, promoter.gmv)), None)
            current = rank_of.get(promoter.level_id, -1) if promoter.level_id else -1
            if target is None or target.rank <= current:
                counts["skipped"] += 1
                continue
            db.session.add(LevelChange(promoter_id=promoter.id, from_level_id=promoter.level_id, to_level_id=target.id,
                                       fans=promoter.fans, gmv=promoter.gmv, created_at=clock.now()))
            promoter.level_id = target.id
            counts["changed"] += 1
        last_id = promoters[-1].id  # before the commit, which expires it (a reload would open a transaction)
        db.session.commit()
        batch_done(counts)
    db.session.rollback()
    return counts


def history(promoter_id: int) -> list[LevelChange]:
    return list(db.session.scalars(select(LevelChange).where(LevelChange.promoter_id == promoter_id)
                                   .order_by(LevelChange.id.desc())))
