"""Audiences: saved member filters with a live count, and the member ids a targeted coupon issue walks.

A filter is a dict: tiers (codes), tags (all must match), tags_any, lifecycle (stages), rfm_segments,
birthday_months (1-12), points_min / points_max (balance = available - debt). Every name is checked when the
audience is saved and again when it is used, so a typo is a 422, never an audience that silently matches nobody.
"""
from __future__ import annotations

from sqlalchemy import Integer, cast, exists, extract, func, select
from sqlalchemy.exc import IntegrityError

from app.audit import service as audit
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.pagination import keyset_page
from marketing import segments
from marketing.models import Audience, MemberLifecycle, MemberRfm
from members import tags as member_tags
from members.models import Member, Tier
from points.models import PointsAccount
from tiers import ladder

FILTER_KEYS = ("tiers", "tags", "tags_any", "lifecycle", "rfm_segments", "birthday_months", "points_min",
               "points_max")


def check_filter(spec: dict) -> dict:
    """Validate and normalise a filter; raises 422 naming the field for unknown tiers, tags, stages, segments."""
    spec = {k: v for k, v in (spec or {}).items() if v not in (None, [])}
    unknown_keys = set(spec) - set(FILTER_KEYS)
    if unknown_keys:
        raise ValidationError(sorted(unknown_keys)[0], "Unknown filter field.", code="unknown_filter")
    ladder.check_codes(spec.get("tiers") or [], "tiers")
    for key in ("tags", "tags_any"):
        if spec.get(key):
            member_tags.check_tags_known(spec[key], key)
    if spec.get("lifecycle"):
        segments.check_stages(spec["lifecycle"])
    if spec.get("rfm_segments"):
        segments.check_segments(spec["rfm_segments"], "rfm_segments")
    for month in spec.get("birthday_months", []):
        if not isinstance(month, int) or not 1 <= month <= 12:
            raise ValidationError("birthday_months", "Months are 1-12.")
    low, high = spec.get("points_min"), spec.get("points_max")
    if low is not None and high is not None and low > high:
        raise ValidationError("points_min", "Must not be above points_max.", code="bad_range")
    return spec


def member_filter(spec: dict) -> list:
    """The WHERE clauses on Member for a (checked) filter."""
    clauses = []
    if spec.get("tiers"):
        clauses.append(Member.tier_id.in_(select(Tier.id).where(Tier.code.in_(spec["tiers"]))))
    if spec.get("tags"):
        clauses.append(member_tags.has_tags(Member.id, spec["tags"], "all"))
    if spec.get("tags_any"):
        clauses.append(member_tags.has_tags(Member.id, spec["tags_any"], "any"))
    if spec.get("lifecycle"):
        clauses.append(exists().where(MemberLifecycle.member_id == Member.id,
                                      MemberLifecycle.stage.in_(spec["lifecycle"])))
    if spec.get("rfm_segments"):
        clauses.append(exists().where(MemberRfm.member_id == Member.id, MemberRfm.segment.in_(spec["rfm_segments"])))
    if spec.get("birthday_months"):
        clauses.append(cast(extract("month", Member.birthday), Integer).in_(spec["birthday_months"]))
    if spec.get("points_min") is not None or spec.get("points_max") is not None:
        balance = func.coalesce(select(PointsAccount.available - PointsAccount.debt)
                                .where(PointsAccount.member_id == Member.id).scalar_subquery(), 0)
        if spec.get("points_min") is not None:
            clauses.append(balance >= spec["points_min"])
        if spec.get("points_max") is not None:
            clauses.append(balance <= spec["points_max"])
    return clauses


def count(spec: dict) -> int:
    spec = check_filter(spec)
    return int(db.session.scalar(select(func.count()).select_from(Member).where(*member_filter(spec))))


def get(audience_id: int) -> Audience:
    audience = db.session.get(Audience, audience_id)
    if audience is None:
        raise NotFound("No such audience.", code="audience_not_found")
    return audience


def audience_member_ids(audience: int | dict, after_id: int = 0, limit: int = 1000) -> list[int]:
    """Member ids in the audience (an id or a filter dict), ascending after `after_id`: a targeted issue
    walks it batch by batch (`after_id` = the last id of the previous batch) and stops on an empty list."""
    spec = get(audience).filter if isinstance(audience, int) else audience
    spec = check_filter(spec)
    stmt = select(Member.id).where(Member.id > after_id, *member_filter(spec)).order_by(Member.id).limit(limit)
    return list(db.session.scalars(stmt))


def with_count(audience: Audience, live: bool = True) -> dict:
    return {"id": audience.id, "name": audience.name, "description": audience.description,
            "filter": audience.filter, "count": count(audience.filter) if live else None,
            "created_at": audience.created_at, "updated_at": audience.updated_at}


def preview(spec: dict, sample: int = 10) -> dict:
    return {"count": count(spec), "sample_member_ids": audience_member_ids(spec, 0, sample)}


def create(name: str, spec: dict, description: str | None = None) -> dict:
    spec = check_filter(spec)
    if db.session.scalar(select(Audience.id).where(Audience.name == name)) is not None:
        raise Conflict("An audience with this name exists.", code="audience_exists")
    audience = Audience(name=name, description=description, filter=spec)
    db.session.add(audience)
    try:
        db.session.flush()
        audience_dict = {"name": name, "description": description, "filter": spec}
        audit.record("audience.create", "audience", audience.id, None, audience_dict)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("An audience with this name exists.", code="audience_exists") from None
    return with_count(audience)


def update(audience_id: int, changes: dict) -> dict:
    audience = get(audience_id)
    before = {"name": audience.name, "description": audience.description, "filter": audience.filter}
    if "filter" in changes:
        changes["filter"] = check_filter(changes["filter"])
    if "name" in changes and changes["name"] != audience.name and db.session.scalar(
            select(Audience.id).where(Audience.name == changes["name"])) is not None:
        raise Conflict("An audience with this name exists.", code="audience_exists")
    for key, value in changes.items():
        setattr(audience, key, value)
    audit.record("audience.update", "audience", audience.id, before,
                 {"name": audience.name, "description": audience.description, "filter": audience.filter})
    db.session.commit()
    return with_count(audience)


def listing(limit: int, cursor: str | None) -> dict:
    page = keyset_page(select(Audience), Audience.id, limit, cursor)
    page["items"] = [with_count(a, live=False) for a in page["items"]]  # a count per row: open one
    return page
