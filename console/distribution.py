"""Marketing's distribution pages: the withdrawals waiting for approval (approve, reject) and the promoters
(search, grant by member id, revoke). Thin views over distribution's services; refusals are their ApiError
codes, worded in Chinese by console.messages."""
from __future__ import annotations

from flask import g, render_template, request

from app.errors import ApiError
from app.fields import MAX_ID
from console import session
from console.blueprint import blp
from distribution import promoters, withdrawals

PAGE = 50
NOTICES = {"paid": "已批准，微信已打款。", "processing": "已批准，打款结果待确认。",
           "failed": "已批准，但微信打款失败，金额已退回余额。", "rejected": "已驳回，金额已退回推广员余额。"}


def _page(status: int = 200, **context):
    q = (request.values.get("q") or "").strip()[:64] or None
    state = request.values.get("state") if request.values.get("state") in ("active", "revoked") else None
    context.setdefault("queue", withdrawals.approval_queue(PAGE))
    context.setdefault("promoters", promoters.admin_page(state, None, q, PAGE, None)["items"])
    return render_template("console/distribution.html", q=q or "", state=state or "", **context), status


@blp.get("/distribution")
@session.requires("marketing", "admin")
def distribution():
    return _page()


def _id(name: str) -> int | None:
    value = request.form.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ID else None


@blp.post("/distribution/withdrawals")
@session.requires("marketing", "admin")
def distribution_decide():
    """Approve (WeChat Pay pays at once) or reject (the money goes back) one withdrawal of the queue."""
    withdrawal_id, action = _id("withdrawal_id"), request.form.get("action")
    if withdrawal_id is None or action not in ("approve", "reject"):
        return _page(422, error_code="validation_error")
    try:
        row = withdrawals.decide(withdrawal_id, g.operator.id, approve=action == "approve",
                                 reason=(request.form.get("reason") or "").strip()[:128] or "营销驳回")
    except ApiError as error:
        return _page(422 if error.status < 500 else error.status, error=error)
    return _page(notice=NOTICES[row.state])


@blp.post("/distribution/promoters")
@session.requires("marketing", "admin")
def distribution_promoters():
    """Grant the role by member id, or revoke a promoter with a reason."""
    action = request.form.get("action")
    try:
        if action == "grant":
            member_id = _id("member_id")
            if member_id is None:
                return _page(422, error_code="member_not_found")
            promoters.grant(member_id)
            return _page(notice="已授予推广员资格。")
        promoter_id, reason = _id("promoter_id"), (request.form.get("reason") or "").strip()[:200]
        if action != "revoke" or promoter_id is None or not reason:
            return _page(422, error_code="validation_error")
        promoters.revoke(promoter_id, reason)
    except ApiError as error:
        return _page(422 if error.status < 500 else error.status, error=error)
    return _page(notice="已取消推广员资格，已得佣金仍归其所有。")
