"""Finding members by tag: the rule that a tag is known when some member carries it (a filter naming an
unknown tag is a typo that would silently match nobody), and the WHERE clauses the searches, audiences and
coupon audiences share. Adding and removing tags is marketing's (marketing/tags.py)."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, exists, select

from app.errors import ValidationError
from app.extensions import db
from members.models import Member, MemberTag


def unknown_tags(tags: Iterable[str]) -> list[str]:
    """The tags no member carries (one index probe each)."""
    missing = []
    for tag in dict.fromkeys(tags):
        if db.session.scalar(select(MemberTag.member_id).where(MemberTag.tag == tag).limit(1)) is None:
            missing.append(tag)
    return missing


def check_tags_known(tags: Iterable[str], field: str = "tags") -> list[str]:
    tags = list(dict.fromkeys(tags))
    missing = unknown_tags(tags)
    if missing:
        raise ValidationError(field, f"Unknown tags: {', '.join(missing)}.", code="unknown_tag")
    return tags


def has_tags(member_id_column, tags: Iterable[str], match: str = "all"):
    """A WHERE clause for any member query: the member carries all (or any) of `tags`."""
    tags = list(tags)
    if match == "any":
        return exists().where(MemberTag.member_id == member_id_column, MemberTag.tag.in_(tags))
    return and_(*[exists().where(MemberTag.member_id == member_id_column, MemberTag.tag == tag) for tag in tags])


def member_ids_with_tags(tags: Iterable[str], match: str = "all", after_id: int = 0, limit: int = 1000) -> list[int]:
    """Member ids carrying the tags, ascending, keyset-paged by `after_id` (for the member search and batches).
    Unknown tags raise 422 `unknown_tag` rather than silently matching nobody."""
    tags = check_tags_known(tags)
    if not tags:
        raise ValidationError("tags", "Give at least one tag.", code="unknown_tag")
    stmt = (select(Member.id).where(Member.id > after_id, has_tags(Member.id, tags, match))
            .order_by(Member.id).limit(limit))
    return list(db.session.scalars(stmt))
