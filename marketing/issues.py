"""Targeted coupon issues: a template issued to an audience (tiers, tags, members, a birthday month or a
saved audience) by an RQ job in idempotent batches, with its progress for the console."""
from __future__ import annotations

import logging
import traceback
import uuid

from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import exists, extract, func, select, update
from sqlalchemy.exc import IntegrityError

from app import clock
from app import jobs as job_runtime
from app.audit import service as audit
from app.errors import Conflict, NotFound, ServiceUnavailable, ValidationError
from app.extensions import db
from app.pagination import keyset_page
from app.redis_store import get_redis
from coupons.issuing import already_issued, ended, issue_rows
from coupons.models import CouponIssue, CouponTemplate
from coupons.templates import check_audience_names, get_template
from marketing import audiences
from marketing.audiences import member_filter
from members.models import Member, MemberTag, Tier

log = logging.getLogger(__name__)

ISSUE_BATCH = 1000

# --- targeted issues ------------------------------------------------------------------------------------

def _audience_stmt(audience: dict, after_id: int):
    """The audience's member ids above `after_id`. The bound is repeated inside the tag look-up: PostgreSQL does
    not carry `members.id > n` over to `member_tags.member_id`, and would hash every tagged member for each
    batch and each progress poll (bench/issue_progress.py)."""
    stmt = select(Member.id).where(Member.id > after_id)
    if audience.get("audience_id"):  # a saved audience: the filter copied when the issue was created

        return stmt.where(*member_filter(audience["filter"]))
    if audience.get("member_ids"):
        stmt = stmt.where(Member.id.in_(audience["member_ids"]))
    if audience.get("tiers"):
        stmt = stmt.where(Member.tier_id.in_(select(Tier.id).where(Tier.code.in_(audience["tiers"]))))
    if audience.get("tags"):
        stmt = stmt.where(exists().where(MemberTag.member_id == Member.id, MemberTag.member_id > after_id,
                                         MemberTag.tag.in_(audience["tags"])))
    if audience.get("birthday_month"):
        stmt = stmt.where(extract("month", Member.birthday) == audience["birthday_month"])
    return stmt


def _saved_audience_filter(audience_id: int) -> dict:
    try:
        saved = audiences.get(audience_id)
    except NotFound:
        raise ValidationError("audience.audience_id", f"No saved audience {audience_id}.",
                              code="audience_not_found") from None
    return audiences.check_filter(saved.filter)


def create_issue(template_id: int, audience: dict, key: str | None,
                 operator_id: int | None) -> tuple[CouponIssue, bool]:
    """Record a targeted issue (audited) and return (issue, created). Members match every criterion given
    (tiers, tags: any of them; member_ids; birthday_month), or a saved audience alone (`audience_id`, whose
    filter is copied into the issue so a re-run after a crash walks the same filter even if marketing edits
    the audience meanwhile); `all_members` must be said explicitly. The same key for the same template is the
    same issue: a retried POST gets the first one back (`request_issue` queues it again only if not done).
    Unknown tier codes or tags are a 422 before anything is written."""
    template = get_template(template_id)
    if key:
        existing = db.session.scalar(select(CouponIssue).where(CouponIssue.template_id == template_id,
                                                               CouponIssue.key == key))
        if existing is not None:
            if {k: v for k, v in existing.audience.items() if k != "filter"} != audience:
                raise Conflict("This issue key was used with another audience.", code="issue_key_reused")
            return existing, False
    if not template.active:
        raise Conflict(f"Coupon template {template.code} is stopped.", code="coupon_template_stopped")
    if ended(template, clock.now()):
        raise Conflict(f"Coupon template {template.code} has ended.", code="coupon_template_ended")
    criteria = [name for name in ("tiers", "tags", "member_ids", "birthday_month") if audience.get(name)]
    if audience.get("audience_id"):
        if criteria or audience.get("all_members"):
            raise ValidationError("audience.audience_id", "A saved audience cannot be combined with other criteria.")
        audience = {**audience, "filter": _saved_audience_filter(audience["audience_id"])}
    elif not criteria and not audience.get("all_members"):
        raise ValidationError("audience", "Name tiers, tags, member_ids or birthday_month, a saved audience_id, "
                              "or all_members: true.", code="audience_empty")
    if criteria and audience.get("all_members"):
        raise ValidationError("audience.all_members", "Cannot be combined with other criteria.")
    check_audience_names(audience)
    issue = CouponIssue(template_id=template_id, key=key or uuid.uuid4().hex, audience=audience,
                        created_by_id=operator_id, state="queued")
    db.session.add(issue)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("This issue key is being used by another request.", code="issue_key_reused") from None
    audit.record("coupon_template.issue", "coupon_template", template_id, None,
                 {"issue_id": issue.id, "key": issue.key, "audience": audience})
    db.session.commit()
    return issue, True


def issue_job_id(issue_id: int) -> str:
    return f"coupon-issue-{issue_id}"


def enqueue_issue(issue_id: int) -> bool:
    """Hand the issue to an RQ worker on the `grants` queue (one job per issue, batches inside), retried with
    the project's backoff. Returns False, queueing nothing, while a job for this issue is queued, running or
    waiting for its retry: the job id is derived from the issue, so a second enqueue is refused. A finished or
    failed job of the issue is replaced (a re-post re-queues a failed issue). Unlike the periodic jobs there
    is no three-day claim key: the issue's own state, not a calendar period, says whether it still has work.
    Two enqueues racing past the check are harmless: the batches are idempotent."""
    connection = get_redis()
    job_id = issue_job_id(issue_id)
    try:
        previous = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        previous = None
    if previous is not None:
        if previous.get_status() in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
            log.info("coupon issue %s already has a live job: refusing a second enqueue", issue_id)
            return False
        previous.delete()  # out of the failed/finished registries before its id is reused
    job_runtime.enqueue_on_demand("issue_coupons", job_id=job_id, run_key=f"issue-{issue_id}", connection=connection,
                                  issue_id=issue_id)
    return True


def request_issue(template_id: int, audience: dict, key: str | None, operator_id: int | None) -> CouponIssue:
    """POST .../issue: record the issue (or find the one with this key) and queue it unless it is done.
    Queueing happens after the commit, so Redis failing in between leaves a recorded issue with no job; the
    client is told (503) and re-posting the same key queues it then. A re-post also re-queues a failed
    issue: it resumes after its last finished batch."""

    issue, _ = create_issue(template_id, audience, key, operator_id)
    if issue.state == "done":
        return issue
    try:
        queued = enqueue_issue(issue.id)
    except RedisError:
        log.exception("coupon issue %s recorded but not queued", issue.id)
        raise ServiceUnavailable(f"Issue {issue.id} is recorded but could not be queued; post it again with key "
                                 f"{issue.key} to queue it.", code="coupon_issue_not_queued") from None
    if queued and issue.state == "failed":
        # Conditional: a worker that already picked the job up has moved it to running.
        db.session.execute(update(CouponIssue).where(CouponIssue.id == issue.id, CouponIssue.state == "failed")
                           .values(state="queued"))
        db.session.commit()
    return issue


def get_issue(template_id: int, issue_id: int) -> CouponIssue:
    issue = db.session.get(CouponIssue, issue_id)
    if issue is None or issue.template_id != template_id:
        raise NotFound(f"Issue {issue_id} does not exist.", code="coupon_issue_not_found")
    return issue


def progress(issue: CouponIssue) -> dict:
    """The issue with how far it has come: every member the job has passed is issued, skipped or failed, and
    `remaining` counts the audience's members after the last one passed (one COUNT, none once done). The
    share is counted live rather than fixed at creation, so members who join the audience meanwhile are in
    it, and a done issue is 100 % whatever joined after."""
    processed = issue.issued + issue.skipped + issue.failed
    remaining = 0
    if issue.state != "done":
        remaining = db.session.scalar(select(func.count()).select_from(
            _audience_stmt(issue.audience, issue.last_member_id).subquery())) or 0
    total = processed + remaining
    percent = 100 if issue.state == "done" or total == 0 else processed * 100 // total
    columns = ("id", "template_id", "key", "audience", "state", "issued", "skipped", "failed", "error",
               "created_at", "finished_at")
    return {name: getattr(issue, name) for name in columns} | {"remaining": remaining, "percent": percent}


def list_issues(template_id: int, limit: int, cursor: str | None) -> dict:
    """A template's targeted issues, newest first, each with its progress."""
    get_template(template_id)
    page = keyset_page(select(CouponIssue).where(CouponIssue.template_id == template_id), CouponIssue.id,
                       limit, cursor)
    return {"items": [progress(issue) for issue in page["items"]], "next_cursor": page["next_cursor"]}


def _issue_batch(issue_id: int, batch_size: int) -> tuple[int, int, int, int] | None:
    """One keyset batch: one SELECT of members, one of who already has it, one multi-row INSERT, in one
    transaction with the progress. Returns (scanned, issued, skipped, failed) or None when done."""
    issue = db.session.get(CouponIssue, issue_id)
    member_ids = list(db.session.scalars(_audience_stmt(issue.audience, issue.last_member_id)
                                         .order_by(Member.id).limit(batch_size)))
    if not member_ids:
        return None
    template = db.session.scalar(select(CouponTemplate).where(CouponTemplate.id == issue.template_id)
                                 .with_for_update().execution_options(populate_existing=True))
    key = f"issue:{issue.key}"
    have = {member_id for member_id, _ in already_issued(template.id, member_ids, {key})}
    todo = [m for m in member_ids if m not in have]
    now = clock.now()
    failed = 0
    if todo and (not template.active or ended(template, now)):
        failed, todo = len(todo), []
        issue.error = "template stopped or ended"
    if template.stock is not None and len(todo) > template.stock - template.issued_count:
        room = max(0, template.stock - template.issued_count)
        failed += len(todo) - room
        todo = todo[:room]
        issue.error = "out of stock"
    issue_rows(template, [(member_id, key) for member_id in todo], source="issue", reason=f"issue {issue.id}",
                now=now, issue_id=issue.id)
    issue.issued += len(todo)
    issue.skipped += len(have)
    issue.failed += failed
    issue.last_member_id = member_ids[-1]
    db.session.commit()
    return len(member_ids), len(todo), len(have), failed


JOB_ERROR_PREFIX = "job failed: "


def run_issue(issue_id: int, batch_size: int = ISSUE_BATCH, *, last_try: bool = True) -> dict:
    """The job: issue to the audience in keyset batches of members, each batch its own transaction.
    Killed and re-run, it resumes after the last finished batch; a batch redone after a crash between insert
    and commit is harmless because (template, member, issue key) is unique. Out of stock: counted as failed.

    An exception is written on the issue before it propagates, so whoever polls the issue sees why: with a
    retry to come (`last_try` false) the issue stays running with the error, after the last try it is failed.
    A later successful run clears that error (an out-of-stock or stopped-template note stays)."""

    issue = db.session.get(CouponIssue, issue_id)
    if issue is None:
        raise NotFound(f"Issue {issue_id} does not exist.", code="coupon_issue_not_found")
    counts = {"scanned": 0, "changed": 0, "skipped": 0, "failed": 0}
    if issue.state == "done":
        return counts
    issue.state = "running"
    db.session.commit()
    try:
        retries = 0
        while True:
            try:
                step = _issue_batch(issue_id, batch_size)
            except IntegrityError:  # a concurrent runner of the same issue inserted first: redo the batch
                db.session.rollback()
                retries += 1
                if retries > 3:
                    raise
                continue
            if step is None:
                break
            scanned, issued, skipped, failed = step
            counts["scanned"] += scanned
            counts["changed"] += issued
            counts["skipped"] += skipped
            counts["failed"] += failed
            job_runtime.batch_done(counts)
        issue = db.session.get(CouponIssue, issue_id)
        issue.state = "done"
        issue.finished_at = clock.now()
        if issue.error and issue.error.startswith(JOB_ERROR_PREFIX):
            issue.error = None
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        _record_issue_failure(issue_id, exc, final=last_try)
        raise
    return counts


def _record_issue_failure(issue_id: int, exc: Exception, *, final: bool) -> None:
    """Best effort: when the database itself is what failed, the job run's row (its own connection) and the
    RQ failed registry still say why."""
    message = "".join(traceback.format_exception_only(exc)).strip()
    try:
        db.session.execute(update(CouponIssue).where(CouponIssue.id == issue_id, CouponIssue.state != "done").values(
            state="failed" if final else "running", error=(JOB_ERROR_PREFIX + message)[:500]))
        db.session.commit()
    except Exception:  # noqa: BLE001 - the original error is the one to raise
        db.session.rollback()
        log.exception("could not record the failure of coupon issue %s", issue_id)
