"""Withdrawals: settled commission sent to the promoter's WeChat wallet (企业付款到零钱, WeChat Pay v2 through
wechatpy's `WeChatPay.transfer`).

A request freezes the money under the promoter's row lock (so concurrent requests can never take more than
the settled balance) and commits before WeChat Pay is called; the answer then pays it out or, on a refusal,
returns it to the balance. The withdrawal number is WeChat Pay's partner_trade_no: sent again (a retry after
a timeout) it is never paid twice. Above the approval threshold a withdrawal waits for marketing.
"""
from __future__ import annotations

import logging
import secrets

import requests
from flask import current_app
from sqlalchemy import func, select
from wechatpy.exceptions import WeChatPayException

from app import clock, wechat
from app.audit import service as audit
from app.errors import Conflict, Forbidden, NotFound, ValidationError
from app.extensions import db
from distribution import accounts, program
from distribution.models import Promoter, Withdrawal
from distribution.statements import mask_name
from members.models import Member, MemberIdentity

log = logging.getLogger(__name__)

# WeChat Pay's answers that say the transfer will not happen (the money goes back to the balance); any other
# error (SYSTEMERROR, a timeout) leaves it processing, to be sent again under the same number.
REFUSALS = {"NOTENOUGH", "NAME_MISMATCH", "AMOUNT_LIMIT", "OPENID_ERROR", "V2_ACCOUNT_SIMPLE_BAN", "PARAM_ERROR",
            "SENDNUM_LIMIT", "MONEY_LIMIT", "NO_AUTH", "RECV_ACCOUNT_NOT_ALLOWED", "PAY_CHANNEL_NOT_ALLOWED"}
DESCRIPTION = "推广佣金提现"


def new_number() -> str:
    return "W" + clock.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(4).upper()


def _promoter_of(member_id: int) -> Promoter:
    promoter = db.session.scalar(select(Promoter).where(Promoter.member_id == member_id))
    if promoter is None:
        raise Forbidden("Only a promoter has commission to withdraw.", code="not_promoter")
    return promoter


def _find(withdrawal_no: str) -> Withdrawal | None:
    return db.session.scalar(select(Withdrawal).where(Withdrawal.withdrawal_no == withdrawal_no)
                             .execution_options(populate_existing=True))


def _replay(found: Withdrawal, promoter_id: int, amount: int) -> Withdrawal:
    if found.promoter_id != promoter_id or found.amount != amount:
        raise Conflict("This withdrawal number was already used for another withdrawal.", code="withdrawal_conflict")
    return found


def withdraw(member_id: int, withdrawal_no: str, amount: int, real_name: str | None = None) -> Withdrawal:
    """Freeze `amount` of the settled balance and send it (or queue it for approval). Idempotent by number."""
    settings = program.settings()
    promoter = _promoter_of(member_id)
    found = _find(withdrawal_no)
    if found is not None:
        return _replay(found, promoter.id, amount)
    try:
        promoter = accounts.lock([promoter.id])[promoter.id]
        found = _find(withdrawal_no)  # a twin that held the lock first has committed
        if found is not None:
            db.session.rollback()
            return _replay(found, promoter.id, amount)
        if amount < settings.withdraw_min:
            raise ValidationError("amount", f"At least {settings.withdraw_min} fen per withdrawal.",
                                  code="below_minimum")
        today = clock.business_today()
        made = db.session.scalar(select(func.count()).select_from(Withdrawal).where(
            Withdrawal.promoter_id == promoter.id, Withdrawal.business_date == today))
        if made >= settings.withdraw_daily_count:
            raise Conflict(f"At most {settings.withdraw_daily_count} withdrawals a day.", code="daily_limit")
        if amount > promoter.balance:
            raise ValidationError("amount", f"Only {max(promoter.balance, 0)} fen are settled and free to withdraw.",
                                  code="insufficient_balance")
        waits = amount > settings.withdraw_approval_over
        row = Withdrawal(withdrawal_no=withdrawal_no, promoter_id=promoter.id, amount=amount, real_name=real_name,
                         state="awaiting_approval" if waits else "processing", business_date=today,
                         created_at=clock.now())
        db.session.add(row)
        db.session.flush()
        accounts.move(promoter, "withdraw", f"withdraw:{row.id}", "withdrawal", row.id, balance=-amount, frozen=amount)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if not waits:
        send(row.id)
    return _find(withdrawal_no)


def send(withdrawal_id: int) -> Withdrawal:
    """Ask WeChat Pay to pay a processing withdrawal (again, if a first try's answer was lost) and record it."""
    row = db.session.get(Withdrawal, withdrawal_id)
    if row is None or row.state != "processing":
        raise Conflict("Only a processing withdrawal is sent to WeChat Pay.", code="withdrawal_not_processing")
    promoter = db.session.get(Promoter, row.promoter_id)
    openid = db.session.scalar(select(MemberIdentity.value).where(
        MemberIdentity.member_id == promoter.member_id, MemberIdentity.kind == "openid",
        MemberIdentity.app_id == current_app.config["WECHAT_APPID"]))
    number, amount, real_name = row.withdrawal_no, row.amount, row.real_name
    db.session.rollback()  # no transaction (on SQLite, no write lock) across WeChat Pay's call
    if openid is None:
        return _finish(withdrawal_id, None, "NO_OPENID")
    try:
        answer = wechat.pay_client().transfer.transfer(
            openid, amount, DESCRIPTION, client_ip=current_app.config["WECHAT_PAY_SERVER_IP"],
            check_name="FORCE_CHECK" if real_name else "NO_CHECK", real_name=real_name, out_trade_no=number)
    except WeChatPayException as exc:
        code = exc.errcode or exc.return_code or "FAIL"
        if code in REFUSALS:
            return _finish(withdrawal_id, None, code)
        log.warning("transfer %s not confirmed (%s %s): stays processing", number, code, exc.errmsg)
        return db.session.get(Withdrawal, withdrawal_id)
    except requests.RequestException:
        log.warning("transfer %s: WeChat Pay unreachable, stays processing", number)
        return db.session.get(Withdrawal, withdrawal_id)
    if not isinstance(answer, dict):  # wechatpy hands back a body it could not read as XML: unknown outcome
        log.warning("transfer %s: unreadable answer, stays processing", number)
        return db.session.get(Withdrawal, withdrawal_id)
    return _finish(withdrawal_id, str(answer.get("payment_no") or ""), None)


def _finish(withdrawal_id: int, payment_no: str | None, failure: str | None) -> Withdrawal:
    """Paid: the frozen money leaves as withdrawn. Refused: it goes back to the balance."""
    try:
        row = db.session.get(Withdrawal, withdrawal_id)
        promoter = accounts.lock([row.promoter_id])[row.promoter_id]
        row = db.session.scalar(select(Withdrawal).where(Withdrawal.id == withdrawal_id).with_for_update()
                                .execution_options(populate_existing=True))
        if row.state != "processing":  # another try recorded the answer first
            db.session.rollback()
            return row
        row.finished_at = clock.now()
        if failure is None:
            row.state, row.payment_no = "paid", payment_no
            accounts.move(promoter, "paid", f"paid:{row.id}", "withdrawal", row.id, frozen=-row.amount,
                          withdrawn=row.amount)
        else:
            row.state, row.failure = "failed", failure
            accounts.move(promoter, "returned", f"returned:{row.id}", "withdrawal", row.id, frozen=-row.amount,
                          balance=row.amount)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return row


def decide(withdrawal_id: int, operator_id: int, approve: bool, reason: str | None = None) -> Withdrawal:
    """Marketing approves (then it is sent) or rejects (the money goes back) a withdrawal above the threshold."""
    row = db.session.get(Withdrawal, withdrawal_id)
    if row is None:
        raise NotFound("No such withdrawal.", code="withdrawal_not_found")
    try:
        promoter = accounts.lock([row.promoter_id])[row.promoter_id]
        row = db.session.scalar(select(Withdrawal).where(Withdrawal.id == withdrawal_id).with_for_update()
                                .execution_options(populate_existing=True))
        if row.state != "awaiting_approval":
            raise Conflict("This withdrawal is not waiting for approval.", code="withdrawal_decided")
        row.decided_by = operator_id
        if approve:
            row.state = "processing"
        else:
            row.state, row.failure, row.finished_at = "rejected", (reason or "rejected")[:128], clock.now()
            accounts.move(promoter, "returned", f"returned:{row.id}", "withdrawal", row.id, frozen=-row.amount,
                          balance=row.amount)
        audit.record("distribution.withdrawal." + ("approve" if approve else "reject"), "withdrawal", row.id,
                     {"state": "awaiting_approval"}, {"state": row.state, "reason": reason})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return send(withdrawal_id) if approve else row


def retry(withdrawal_id: int) -> Withdrawal:
    """Send a withdrawal left processing (WeChat Pay's answer was lost) again, under the same number."""
    if db.session.get(Withdrawal, withdrawal_id) is None:
        raise NotFound("No such withdrawal.", code="withdrawal_not_found")
    return send(withdrawal_id)


def of_member(member_id: int):
    promoter = _promoter_of(member_id)
    return select(Withdrawal).where(Withdrawal.promoter_id == promoter.id)


def admin_rows(state: str | None):
    stmt = select(Withdrawal)
    return stmt.where(Withdrawal.state == state) if state else stmt


def approval_queue(limit: int) -> list[dict]:
    """The withdrawals waiting for marketing, oldest first (first asked, first decided), with the promoter's
    code and masked nickname."""
    rows = db.session.execute(
        select(Withdrawal, Promoter.code, Member.nickname).join(Promoter, Promoter.id == Withdrawal.promoter_id)
        .join(Member, Member.id == Promoter.member_id).where(Withdrawal.state == "awaiting_approval")
        .order_by(Withdrawal.id).limit(limit))
    return [{"row": row, "code": code, "name": mask_name(nickname)} for row, code, nickname in rows]
