"""Member tags: automatic families kept in sync by the jobs (set-based), manual tags, bulk CSV, search by tag.

Automatic tags are computed facts (`channel:<scene>`, `tier:<code>`, `vip`, `birthday_month:<1-12>`,
`lifecycle:<stage>`, `super_user`); the jobs add the missing ones and remove the stale ones with two SQL
statements per family and member-id batch, never one query per member. Manual tags are what marketing types;
they cannot use the automatic names, so a job never deletes a tag a person put on.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import Integer, String, and_, cast, exists, extract, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from app import clock
from app.audit import service as audit
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.fields import MAX_ID
from marketing.models import MemberLifecycle, MemberRfm
from members.models import Member, MemberTag, Tier

AUTO_PREFIXES = ("channel:", "tier:", "birthday_month:", "lifecycle:")
AUTO_NAMES = ("vip", "super_user")
TAG_PATTERN = re.compile(r"^[^\s,;\"'<>\x00-\x1f\x7f][^,;\"'<>\x00-\x1f\x7f]{0,63}$")  # no control characters
BULK_MAX_ROWS = 100_000
BULK_MAX_BYTES = 8 * 1024 * 1024  # 100,000 rows of id and phone fit; above the API's 1 MiB (app.inbound.body_limit)
BATCH = 20_000


def is_auto_tag(tag: str) -> bool:
    return tag in AUTO_NAMES or tag.startswith(AUTO_PREFIXES)


def check_manual_tag(tag: str, field: str = "tag") -> str:
    tag = (tag or "").strip()
    if not TAG_PATTERN.match(tag):
        raise ValidationError(field, "1-64 characters, no commas, quotes, angle brackets or line breaks.",
                              code="bad_tag")
    if is_auto_tag(tag):
        raise ValidationError(field, f"'{tag}' is an automatic tag name; the jobs own it.", code="reserved_tag")
    return tag


def affected(stmt) -> int:
    """Rows an INSERT/DELETE touched, counted from RETURNING (rowcount is -1 for INSERT ... SELECT on some
    drivers and for multi-row VALUES batches)."""
    return len(db.session.execute(stmt.returning(literal(1))).all())


def _insert_ignore(table):
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def tag_counts() -> list[dict]:
    """Every tag in use with how many members carry it."""
    rows = db.session.execute(
        select(MemberTag.tag, MemberTag.source, func.count()).group_by(MemberTag.tag, MemberTag.source)
        .order_by(MemberTag.tag)
    )
    merged: dict[str, dict] = {}
    for tag, _source, count in rows:
        item = merged.setdefault(tag, {"tag": tag, "auto": is_auto_tag(tag), "members": 0})
        item["members"] += count
    return list(merged.values())


# --- manual tags on one member --------------------------------------------------------------------------

def _member_or_404(member_id: int) -> Member:
    member = db.session.get(Member, member_id)
    if member is None:
        raise NotFound("No such member.", code="member_not_found")
    return member


def member_tags(member_id: int) -> list[MemberTag]:
    _member_or_404(member_id)
    return list(db.session.scalars(select(MemberTag).where(MemberTag.member_id == member_id).order_by(MemberTag.tag)))


def add_manual_tag(member_id: int, tag: str) -> list[MemberTag]:
    """Put a manual tag on a member (a repeat changes nothing and writes no audit row)."""
    tag = check_manual_tag(tag)
    _member_or_404(member_id)
    if db.session.get(MemberTag, (member_id, tag)) is None:
        db.session.add(MemberTag(member_id=member_id, tag=tag, source="manual", created_at=clock.now()))
        audit.record("member_tag.add", "member", member_id, None, {"tag": tag})
        db.session.commit()
    return member_tags(member_id)


def remove_manual_tag(member_id: int, tag: str) -> list[MemberTag]:
    _member_or_404(member_id)
    row = db.session.get(MemberTag, (member_id, tag))
    if row is None:
        raise NotFound(f"The member has no tag '{tag}'.", code="tag_not_found")
    if row.source != "manual":
        raise Conflict(f"'{tag}' is an automatic tag; the jobs set and clear it.", code="auto_tag")
    db.session.delete(row)
    audit.record("member_tag.remove", "member", member_id, {"tag": tag}, None)
    db.session.commit()
    return member_tags(member_id)


# --- bulk from a CSV ----------------------------------------------------------------------------------

def _parse_csv(content: bytes) -> tuple[list[tuple[int, str, str]], list[dict]]:
    """CSV rows -> [(row number, "member_id"|"phone", value)] and per-row errors. The header names the
    column(s): `member_id` and/or `phone`; a row uses the member id when it has one, else the phone."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("file", "The file is not UTF-8 text.", code="bad_csv") from None
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if not header or not {"member_id", "phone"} & set(header):
        raise ValidationError("file", "The first row must name a `member_id` or `phone` column.", code="bad_csv")
    id_col = header.index("member_id") if "member_id" in header else None
    phone_col = header.index("phone") if "phone" in header else None
    wanted, errors = [], []
    for number, row in enumerate(reader, start=2):
        if number - 1 > BULK_MAX_ROWS:
            raise ValidationError("file", f"At most {BULK_MAX_ROWS} rows per upload.", code="too_many_rows")
        if not any(cell.strip() for cell in row):
            continue
        member_id = row[id_col].strip() if id_col is not None and id_col < len(row) else ""
        phone = row[phone_col].strip() if phone_col is not None and phone_col < len(row) else ""
        if member_id:
            if re.fullmatch(r"[0-9]{1,10}", member_id) and 0 < int(member_id) <= MAX_ID:  # not '²' or '１'
                wanted.append((number, "member_id", member_id))
            else:
                errors.append({"row": number, "value": member_id, "code": "invalid", "reason": "not a member id"})
        elif phone:
            if re.fullmatch(r"\+?[0-9]{5,20}", phone):
                wanted.append((number, "phone", phone))
            else:
                errors.append({"row": number, "value": phone, "code": "invalid", "reason": "not a phone number"})
        else:
            errors.append({"row": number, "value": "", "code": "invalid", "reason": "no member id or phone"})
    return wanted, errors


def _resolve(wanted: list[tuple[int, str, str]]) -> tuple[dict[int, int], list[dict]]:
    """Row number -> member id for the rows that name an existing member; the rest as not_found errors."""
    ids = {int(v) for _, kind, v in wanted if kind == "member_id"}
    phones = {v for _, kind, v in wanted if kind == "phone"}
    known_ids: set[int] = set()
    by_phone: dict[str, int] = {}
    id_list, phone_list = sorted(ids), sorted(phones)
    for start in range(0, len(id_list), 1000):
        known_ids.update(db.session.scalars(select(Member.id).where(Member.id.in_(id_list[start:start + 1000]))))
    for start in range(0, len(phone_list), 1000):
        by_phone.update(db.session.execute(
            select(Member.phone, Member.id).where(Member.phone.in_(phone_list[start:start + 1000]))).all())
    found, errors = {}, []
    for number, kind, value in wanted:
        member_id = int(value) if kind == "member_id" and int(value) in known_ids else by_phone.get(value)
        if member_id is None:
            errors.append({"row": number, "value": value, "code": "not_found", "reason": f"no member with this {kind}"})
        else:
            found[number] = member_id
    return found, errors


def bulk_tag(tag: str, content: bytes, action: str = "add") -> dict:
    """Apply (or remove) a manual tag for every CSV row naming a member; report the rows that did not.
    The good rows are applied even when some rows are bad; one audit row records the whole upload."""
    tag = check_manual_tag(tag)
    if action not in ("add", "remove"):
        raise ValidationError("action", "Must be add or remove.")
    wanted, errors = _parse_csv(content)
    found, not_found = _resolve(wanted)
    errors = sorted(errors + not_found, key=lambda e: e["row"])
    member_ids = sorted(set(found.values()))
    changed = 0
    now = clock.now()
    for start in range(0, len(member_ids), 1000):
        chunk = member_ids[start:start + 1000]
        if action == "add":
            stmt = _insert_ignore(MemberTag.__table__).values(
                [{"member_id": m, "tag": tag, "source": "manual", "created_at": now} for m in chunk]
            ).on_conflict_do_nothing()
            changed += affected(stmt)
        else:
            changed += affected(
                MemberTag.__table__.delete().where(MemberTag.tag == tag, MemberTag.source == "manual",
                                                   MemberTag.member_id.in_(chunk)))
    report = {
        "tag": tag, "action": action, "rows": len(wanted) + sum(1 for e in errors if e["code"] == "invalid"),
        "members": len(member_ids), "changed": changed, "unchanged": len(member_ids) - changed,
        "errors": errors,
    }
    audit.record(f"member_tag.bulk_{action}", "tag", tag, None,
                 {k: report[k] for k in ("rows", "members", "changed")} | {"errors": len(errors)})
    db.session.commit()
    return report


# --- automatic families (the jobs) --------------------------------------------------------------------

def _sync_family(prefix: str, desired: Callable[[int, int], object], lo: int, hi: int, now: datetime) -> int:
    """Make the auto tags of one family equal `desired(lo, hi)` (a SELECT member_id, tag) for members in
    [lo, hi): delete the stale ones, insert the missing ones. Returns how many rows changed."""
    want = desired(lo, hi).subquery()
    family = MemberTag.tag == prefix if prefix in AUTO_NAMES else MemberTag.tag.startswith(prefix, autoescape=True)
    removed = affected(
        MemberTag.__table__.delete().where(
            MemberTag.source == "auto", family, MemberTag.member_id >= lo, MemberTag.member_id < hi,
            ~exists().where(want.c.member_id == MemberTag.member_id, want.c.tag == MemberTag.tag),
        ))
    missing = select(want.c.member_id, want.c.tag, literal("auto"), literal(now, type_=MemberTag.created_at.type)) \
        .where(~exists().where(MemberTag.member_id == want.c.member_id, MemberTag.tag == want.c.tag))
    added = affected(
        _insert_ignore(MemberTag.__table__).from_select(["member_id", "tag", "source", "created_at"], missing)
        .on_conflict_do_nothing())
    return removed + added


def _in_range(lo: int, hi: int):
    return and_(Member.id >= lo, Member.id < hi)


def _channel(lo: int, hi: int):
    return select(Member.id.label("member_id"), (literal("channel:") + Member.source_channel).label("tag")) \
        .where(_in_range(lo, hi), Member.source_channel.is_not(None), Member.source_channel != "")


def _tier(lo: int, hi: int):
    return select(Member.id.label("member_id"), (literal("tier:") + Tier.code).label("tag")) \
        .join(Tier, Tier.id == Member.tier_id).where(_in_range(lo, hi))


def _vip(lo: int, hi: int):
    return select(Member.id.label("member_id"), literal("vip").label("tag")) \
        .where(_in_range(lo, hi), Member.vip_until > clock.now())


def _birthday_month(lo: int, hi: int):
    month = cast(cast(extract("month", Member.birthday), Integer), String)
    return select(Member.id.label("member_id"), (literal("birthday_month:") + month).label("tag")) \
        .where(_in_range(lo, hi), Member.birthday.is_not(None))


def _lifecycle(lo: int, hi: int):
    return select(MemberLifecycle.member_id.label("member_id"),
                  (literal("lifecycle:") + MemberLifecycle.stage).label("tag")) \
        .where(MemberLifecycle.member_id >= lo, MemberLifecycle.member_id < hi)


def _super_user(lo: int, hi: int):
    return select(MemberRfm.member_id.label("member_id"), literal("super_user").label("tag")) \
        .where(MemberRfm.member_id >= lo, MemberRfm.member_id < hi, MemberRfm.super_user.is_(True))


FAMILIES: dict[str, Callable[[int, int], object]] = {
    "channel:": _channel, "tier:": _tier, "vip": _vip, "birthday_month:": _birthday_month,
    "lifecycle:": _lifecycle, "super_user": _super_user,
}


def member_id_batches(batch: int = BATCH) -> Iterable[tuple[int, int]]:
    """[lo, hi) member-id ranges covering every member (ids are dense enough for fixed-width ranges)."""
    low, high = db.session.execute(select(func.min(Member.id), func.max(Member.id))).one()
    if low is None:
        return
    for lo in range(low, high + 1, batch):
        yield lo, lo + batch


def sync_auto_tags(families: Iterable[str] | None = None, batch: int = BATCH) -> dict:
    """Recompute automatic tag families for every member, one committed transaction per id batch."""
    names = list(families or FAMILIES)
    counts = {"scanned": 0, "changed": 0, "skipped": 0, "failed": 0}
    now = clock.now()
    for lo, hi in member_id_batches(batch):
        for name in names:
            counts["changed"] += _sync_family(name, FAMILIES[name], lo, hi, now)
        counts["scanned"] += db.session.scalar(select(func.count()).select_from(Member).where(_in_range(lo, hi)))
        db.session.commit()
    return counts
