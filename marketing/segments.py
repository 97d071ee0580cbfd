"""Who the members are: lifecycle stage, RFM scores and segments, super users, KOC candidates.

All of it is computed by jobs with set-based SQL (INSERT ... SELECT with window functions), then read by the
reports and audiences. A purchase counts unless it was refunded in full.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Date, and_, case, exists, func, literal, or_, select, union_all, update

from app import clock
from app import jobs as job_runtime
from app.audit import service as audit
from app.errors import ValidationError
from app.extensions import db
from marketing import tags
from marketing.models import KocScore, LifecycleSettings, MemberLifecycle, MemberRfm, SegmentRun
from members.models import Member
from tasks.models import TaskCompletion, TaskDefinition
from till.models import Purchase

STAGES = ("new", "active", "at_risk", "lapsed", "dormant")  # dormant: joined long ago, never bought
SEGMENTS = ("champions", "loyal", "potential_loyalist", "new_customers", "promising", "need_attention",
            "about_to_sleep", "at_risk", "cant_lose", "hibernating")
SUPER_USER_PERCENT = 20


def segment_for(r: int, f: int) -> str:
    """The classic RFM map on the recency x frequency grid (monetary refines within a cell)."""
    if r >= 5 and f >= 4:
        return "champions"
    if r >= 3 and f >= 4:
        return "loyal"
    if r >= 4 and f >= 2:
        return "potential_loyalist"
    if r >= 5:
        return "new_customers"
    if r >= 4:
        return "promising"
    if r == 3 and f == 3:
        return "need_attention"
    if r == 3:
        return "about_to_sleep"
    if f >= 5:
        return "cant_lose"
    if f >= 3:
        return "at_risk"
    return "hibernating"


def _segment_case(r, f):
    """`segment_for` as SQL, so the whole population is segmented in one statement."""
    return case(
        (and_(r >= 5, f >= 4), "champions"),
        (and_(r >= 3, f >= 4), "loyal"),
        (and_(r >= 4, f >= 2), "potential_loyalist"),
        (r >= 5, "new_customers"),
        (r >= 4, "promising"),
        (and_(r == 3, f == 3), "need_attention"),
        (r == 3, "about_to_sleep"),
        (f >= 5, "cant_lose"),
        (f >= 3, "at_risk"),
        else_="hibernating",
    )


def _counted():
    """Purchases that count as buying: not refunded in full. A points-only order (paid 0) has no money to
    compare, so its `refunded_full` flag says it; rows written without the flag are judged by money."""
    return and_(Purchase.refunded_full.is_(False), or_(Purchase.paid == 0, Purchase.refunded_amount < Purchase.paid))


# --- lifecycle settings -------------------------------------------------------------------------------

def get_settings() -> LifecycleSettings:
    settings = db.session.get(LifecycleSettings, 1)
    if settings is None:
        settings = LifecycleSettings(id=1)
        db.session.add(settings)
        db.session.flush()
    return settings


def _settings_dict(s: LifecycleSettings) -> dict:
    return {"new_days": s.new_days, "active_days": s.active_days, "lapsed_days": s.lapsed_days}


def update_settings(changes: dict) -> LifecycleSettings:
    settings = get_settings()
    before = _settings_dict(settings)
    merged = before | changes
    for name, value in merged.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 3650:
            raise ValidationError(name, "A whole number of days between 1 and 3650.")
    if merged["active_days"] >= merged["lapsed_days"]:
        raise ValidationError("lapsed_days", "Must be greater than active_days.", code="bad_thresholds")
    for name, value in changes.items():
        setattr(settings, name, value)
    audit.record("lifecycle_settings.update", "lifecycle_settings", 1, before, merged)
    db.session.commit()
    return settings


# --- lifecycle ----------------------------------------------------------------------------------------

def _lifecycle_select(day: date, lo: int, hi: int, settings: LifecycleSettings):
    end = clock.end_of_business_day(day)
    active_from = clock.start_of_business_day(day - timedelta(days=settings.active_days - 1))
    at_risk_from = clock.start_of_business_day(day - timedelta(days=settings.lapsed_days - 1))
    new_from = clock.start_of_business_day(day - timedelta(days=settings.new_days - 1))
    last = (
        select(Purchase.member_id, func.max(Purchase.created_at).label("last"))
        .where(Purchase.member_id >= lo, Purchase.member_id < hi, Purchase.created_at < end, _counted())
        .group_by(Purchase.member_id).subquery()
    )
    stage = case(
        (last.c.last >= active_from, "active"),
        (last.c.last >= at_risk_from, "at_risk"),
        (last.c.last.is_not(None), "lapsed"),
        (Member.created_at >= new_from, "new"),
        else_="dormant",
    )
    return (
        select(Member.id, stage, last.c.last, literal(day, type_=Date))
        .select_from(Member).outerjoin(last, last.c.member_id == Member.id)
        .where(Member.id >= lo, Member.id < hi, Member.created_at < end)
    )


def recompute_lifecycle(day: date | None = None, batch: int = tags.BATCH) -> dict:
    """Each member's stage as of the end of `day` (default today), and the `lifecycle:*`, tier, VIP,
    channel and birthday-month tags; one transaction per member-id batch (re-runnable at any point).

    With the default thresholds: active = last purchase 0-89 days before `day`, at_risk 90-179, lapsed
    180+; never bought: new when joined 0-29 days before, else dormant."""
    day = day or clock.business_today()
    settings = get_settings()
    counts = {"scanned": 0, "changed": 0, "skipped": 0, "failed": 0}
    now = clock.now()
    for lo, hi in tags.member_id_batches(batch):
        db.session.execute(MemberLifecycle.__table__.delete().where(
            MemberLifecycle.member_id >= lo, MemberLifecycle.member_id < hi))
        db.session.execute(MemberLifecycle.__table__.insert().from_select(
            ["member_id", "stage", "last_purchase_at", "computed_on"], _lifecycle_select(day, lo, hi, settings)))
        counts["scanned"] += db.session.scalar(select(func.count()).select_from(MemberLifecycle).where(
            MemberLifecycle.member_id >= lo, MemberLifecycle.member_id < hi))
        for family, desired in tags.FAMILIES.items():
            if family != "super_user":
                counts["changed"] += tags._sync_family(family, desired, lo, hi, now)
        db.session.commit()
    return counts


def stage_counts() -> dict[str, int]:
    rows = dict(db.session.execute(select(MemberLifecycle.stage, func.count()).group_by(MemberLifecycle.stage)).all())
    return {stage: int(rows.get(stage, 0)) for stage in STAGES}


# --- RFM and super users ------------------------------------------------------------------------------

def compute_rfm(day: date | None = None) -> dict:
    """Score every member with a purchase up to the end of `day` (default yesterday): R, F and M each 1-5
    by quintile of rank (ties share a score: 1 + (rank - 1) * 5 // n), the classic segment, the 12-month
    spend and the super users (the top 20% by it). One statement per step, one transaction."""
    day = day or clock.business_today() - timedelta(days=1)
    end = clock.end_of_business_day(day)
    since_12m = clock.start_of_business_day(day - timedelta(days=364))
    net = Purchase.paid - Purchase.refunded_amount
    agg = (
        select(Purchase.member_id.label("member_id"), func.max(Purchase.created_at).label("last"),
               func.count().label("frequency"), func.sum(net).label("monetary"),
               func.sum(case((Purchase.created_at >= since_12m, net), else_=0)).label("spend_12m"))
        .where(Purchase.created_at < end, _counted()).group_by(Purchase.member_id).cte("agg")
    )
    n = func.count().over()
    ranked = select(
        agg.c.member_id, agg.c.last, agg.c.frequency, agg.c.monetary, agg.c.spend_12m,
        (1 + (func.rank().over(order_by=agg.c.last) - 1) * 5 // n).label("r"),
        (1 + (func.rank().over(order_by=agg.c.frequency) - 1) * 5 // n).label("f"),
        (1 + (func.rank().over(order_by=agg.c.monetary) - 1) * 5 // n).label("m"),
    ).cte("ranked")
    rows = select(ranked.c.member_id, ranked.c.last, ranked.c.frequency, ranked.c.monetary, ranked.c.spend_12m,
                  ranked.c.r, ranked.c.f, ranked.c.m, _segment_case(ranked.c.r, ranked.c.f),
                  literal(False), literal(day, type_=Date))
    db.session.execute(MemberRfm.__table__.delete())
    db.session.execute(MemberRfm.__table__.insert().from_select(
        ["member_id", "last_purchase_at", "frequency", "monetary", "spend_12m", "r_score", "f_score", "m_score",
         "segment", "super_user", "computed_on"], rows))
    scored = db.session.scalar(select(func.count()).select_from(MemberRfm))
    run = _mark_super_users(day, scored)
    db.session.commit()
    counts = {**job_runtime.zero_counts(), "scanned": scored}
    job_runtime.batch_done(counts)
    for lo, hi in tags.member_id_batches():  # the super_user tag, batch by batch
        counts["changed"] += tags._sync_family("super_user", tags._super_user, lo, hi, clock.now())
        db.session.commit()
        job_runtime.batch_done(counts)
    return {**counts, "super_users": run.super_users}


def _mark_super_users(day: date, scored: int) -> SegmentRun:
    spenders, revenue = db.session.execute(
        select(func.count(), func.coalesce(func.sum(MemberRfm.spend_12m), 0)).where(MemberRfm.spend_12m > 0)).one()
    top = -(-spenders * SUPER_USER_PERCENT // 100)  # ceil: 1 spender of 3 is still a super user
    chosen = select(MemberRfm.member_id).where(MemberRfm.spend_12m > 0) \
        .order_by(MemberRfm.spend_12m.desc(), MemberRfm.member_id.asc()).limit(top)
    if top:
        db.session.execute(update(MemberRfm).where(MemberRfm.member_id.in_(chosen.scalar_subquery()))
                           .values(super_user=True).execution_options(synchronize_session=False))
    super_revenue, threshold = db.session.execute(
        select(func.coalesce(func.sum(MemberRfm.spend_12m), 0), func.coalesce(func.min(MemberRfm.spend_12m), 0))
        .where(MemberRfm.super_user.is_(True))).one()
    by_segment = {
        segment: {"members": int(count), "monetary": int(monetary or 0)}
        for segment, count, monetary in db.session.execute(
            select(MemberRfm.segment, func.count(), func.sum(MemberRfm.monetary)).group_by(MemberRfm.segment))
    }
    run = db.session.get(SegmentRun, day) or SegmentRun(day=day)
    run.members_with_purchases = scored
    run.spenders_12m, run.revenue_12m = int(spenders), int(revenue)
    run.super_users, run.super_revenue_12m, run.super_threshold = top, int(super_revenue), int(threshold)
    run.segments = by_segment
    run.computed_at = clock.now()
    db.session.add(run)
    return run


def latest_run() -> SegmentRun | None:
    return db.session.scalar(select(SegmentRun).order_by(SegmentRun.day.desc()).limit(1))


def check_segments(segments, field: str = "segments") -> list[str]:
    unknown = [s for s in segments if s not in SEGMENTS]
    if unknown:
        raise ValidationError(field, f"Unknown segments: {', '.join(unknown)}; known: {', '.join(SEGMENTS)}.",
                              code="unknown_segment")
    return list(segments)


def check_stages(stages, field: str = "lifecycle") -> list[str]:
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValidationError(field, f"Unknown stages: {', '.join(unknown)}; known: {', '.join(STAGES)}.",
                              code="unknown_stage")
    return list(stages)


def request_recompute() -> dict:
    """Marketing asks for the segments now (RFM, super users, KOC, through the end of today) instead of
    waiting for tonight's run over yesterday: the same job, queued under a key of its own, its progress in
    job_runs. A second request in the same second is the same request."""
    today = clock.business_today()
    suffix = "-now-" + clock.now().astimezone(clock.business_tz()).strftime("%H%M%S")
    job = job_runtime.enqueue("compute_rfm", today, suffix=suffix)
    return {"job": "compute_rfm", "run_key": today.isoformat(), "job_id": f"compute_rfm-{today.isoformat()}{suffix}",
            "queued": job is not None}


def computed_at() -> datetime | None:
    """When the segments shown were computed (the last run of the segments job)."""
    run = latest_run()
    return run.computed_at if run else None


def rfm_report(segment: str | None = None, limit: int = 20) -> dict:
    """The segment distribution of the last run; with `segment`, its members by monetary value."""
    run = latest_run()
    distribution = []
    total = run.members_with_purchases if run else 0
    for name in SEGMENTS:
        cell = (run.segments or {}).get(name, {}) if run else {}
        members = int(cell.get("members", 0))
        distribution.append({"segment": name, "members": members, "monetary": int(cell.get("monetary", 0)),
                             "share": ratio(members, total)})
    members = []
    if segment is not None:
        check_segments([segment], "segment")
        members = list(db.session.scalars(
            select(MemberRfm).where(MemberRfm.segment == segment)
            .order_by(MemberRfm.monetary.desc(), MemberRfm.member_id).limit(limit)))
    return {"computed_on": run.day if run else None, "computed_at": run.computed_at if run else None,
            "members_with_purchases": total,
            "segments": distribution, "grid": rfm_grid(), "members": members}


def rfm_grid() -> list[dict]:
    """The recency x frequency grid of the last scoring run: all 25 cells (an empty one is 0), each with its
    segment (`segment_for`), so a console can draw the classic RFM map and open the members of a cell."""
    counts = {(int(r), int(f)): int(n) for r, f, n in db.session.execute(
        select(MemberRfm.r_score, MemberRfm.f_score, func.count()).group_by(MemberRfm.r_score, MemberRfm.f_score))}
    return [{"r": r, "f": f, "segment": segment_for(r, f), "members": counts.get((r, f), 0)}
            for r in range(5, 0, -1) for f in range(1, 6)]


def super_users_report(limit: int = 20) -> dict:
    """The top 20% by 12-month spend and their share of 12-month revenue (from the last RFM run)."""
    run = latest_run()
    if run is None:
        return {"computed_on": None, "computed_at": None, "spenders_12m": 0, "super_users": 0, "revenue_12m": 0,
                "super_revenue_12m": 0,
                "revenue_share": 0.0, "threshold": 0, "top": []}
    top = list(db.session.scalars(
        select(MemberRfm).where(MemberRfm.super_user.is_(True))
        .order_by(MemberRfm.spend_12m.desc(), MemberRfm.member_id).limit(limit)))
    return {"computed_on": run.day, "computed_at": run.computed_at, "spenders_12m": run.spenders_12m,
            "super_users": run.super_users,
            "revenue_12m": run.revenue_12m, "super_revenue_12m": run.super_revenue_12m,
            "revenue_share": ratio(run.super_revenue_12m, run.revenue_12m), "threshold": run.super_threshold,
            "top": top}


def ratio(part: int, whole: int) -> float:
    """A share for display, rounded to 4 places (computed from integers; never fed back into money)."""
    return round(part / whole, 4) if whole else 0.0


# --- KOC ----------------------------------------------------------------------------------------------

def compute_koc(day: date | None = None) -> dict:
    """Rank inviters (invitees registered by the end of `day`, of whom converted = made a purchase by then that
    still counts: one refunded in full converts no one, as everywhere in the segments) and
    posters (rewarded completions of `post` tasks, 图文 shared by the member, by then): a member who posts but
    has not invited anyone yet is a KOC candidate too. One INSERT .. SELECT of both counts, grouped per
    member (a statement per posting member cost 10 s of client CPU at 100k posters: bench/README.md)."""
    day = day or clock.business_today() - timedelta(days=1)
    end = clock.end_of_business_day(day)
    bought = exists().where(Purchase.member_id == Member.id, Purchase.created_at < end, _counted())
    invites = (
        select(Member.invited_by_id.label("member_id"), func.count().label("invites"),
               func.sum(case((bought, 1), else_=0)).label("converted"), literal(0).label("posts"))
        .where(Member.invited_by_id.is_not(None), Member.created_at < end).group_by(Member.invited_by_id))
    posts = (
        select(TaskCompletion.member_id, literal(0), literal(0), func.count())
        .join(TaskDefinition, TaskDefinition.id == TaskCompletion.task_id)
        .where(TaskDefinition.kind == "post", TaskCompletion.created_at < end).group_by(TaskCompletion.member_id))
    both = union_all(invites, posts).subquery()
    rows = select(both.c.member_id, func.sum(both.c.invites), func.sum(both.c.converted), func.sum(both.c.posts),
                  literal(day, type_=Date)).group_by(both.c.member_id)
    db.session.execute(KocScore.__table__.delete())
    db.session.execute(KocScore.__table__.insert().from_select(
        ["member_id", "invites", "converted", "posts", "computed_on"], rows))
    scanned = db.session.scalar(select(func.count()).select_from(KocScore))
    db.session.commit()
    return {"scanned": scanned, "changed": scanned, "skipped": 0, "failed": 0}


def koc_report(limit: int = 20) -> dict:
    rows = db.session.execute(
        select(KocScore, Member).join(Member, Member.id == KocScore.member_id)
        .order_by(KocScore.converted.desc(), KocScore.posts.desc(), KocScore.invites.desc(), KocScore.member_id)
        .limit(limit)).all()
    items = [{"member_id": koc.member_id, "nickname": member.nickname, "invites": koc.invites,
              "converted": koc.converted, "conversion_rate": ratio(koc.converted, koc.invites), "posts": koc.posts,
              "rank": index + 1} for index, (koc, member) in enumerate(rows)]
    computed_on = db.session.scalar(select(func.max(KocScore.computed_on)))
    return {"computed_on": computed_on, "computed_at": computed_at(), "items": items}
