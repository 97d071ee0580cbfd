"""Paid VIP (付费会员): plans, WeChat Pay JSAPI orders, the signed payment notify, expiry and VIP packs.

The notify is the only thing that activates a VIP: it must carry WeChat Pay's signature, name an order we
created, for exactly its amount. The order row is locked and a VIP period is unique per order, so a
replayed or concurrent notify extends nothing twice. A renewal starts where the current VIP ends.
"""
from __future__ import annotations

import logging
import secrets
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from app import clock, events, wechat
from app.audit import service as audit
from app.clock import as_day
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.sql import any_of
from members import service as members_service
from members.models import Member, MemberIdentity, MemberTag
from members.schemas import load_benefits
from vip.models import VipOrder, VipPeriod, VipPlan
from vip.schemas import VipBenefits

log = logging.getLogger(__name__)

PLAN_FIELDS = ("code", "name", "price", "duration_days", "benefits", "active")


# --- plans --------------------------------------------------------------------------------------------

def list_plans(active_only: bool = True) -> list[VipPlan]:
    stmt = select(VipPlan).order_by(VipPlan.price.asc(), VipPlan.id.asc())
    if active_only:
        stmt = stmt.where(VipPlan.active.is_(True))
    return list(db.session.scalars(stmt))


def get_plan(plan_id: int) -> VipPlan:
    plan = db.session.get(VipPlan, plan_id)
    if plan is None:
        raise NotFound("No such VIP plan.", code="vip_plan_not_found")
    return plan


def _plan_dict(plan: VipPlan) -> dict:
    return {name: getattr(plan, name) for name in PLAN_FIELDS}


def _check_plan_benefits(benefits: dict) -> dict:
    return load_benefits(VipBenefits(), benefits)


def save_plan(plan_id: int | None, changes: dict, *, audited: bool = True) -> VipPlan:
    """Create or edit a plan (audited). Orders already created keep the price and duration they were made at."""
    if plan_id is None:
        plan, before = VipPlan(), None
        values = {"benefits": {}, "active": True, **changes}
    else:
        plan = get_plan(plan_id)
        before = _plan_dict(plan)
        values = {**before, **changes}
    for name, low, high in (("price", 1, 100_000_000), ("duration_days", 1, 3660)):
        value = values.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValidationError(name, f"Must be a whole number from {low} to {high}.")
    taken = db.session.scalar(select(VipPlan.id).where(VipPlan.code == values["code"], VipPlan.id != (plan.id or 0)))
    if taken is not None:
        raise Conflict(f"Another plan has code {values['code']}.", code="vip_plan_code_taken")
    values["benefits"] = _check_plan_benefits(values.get("benefits") or {})
    for name in PLAN_FIELDS:
        setattr(plan, name, values[name])
    if plan_id is None:
        db.session.add(plan)
    db.session.flush()
    if audited:
        audit.record("vip_plan.create" if plan_id is None else "vip_plan.update", "vip_plan", plan.id, before,
                     _plan_dict(plan))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Another plan has this code.", code="vip_plan_code_taken") from None
    return plan


# --- membership effects -------------------------------------------------------------------------------

def active_period(member_id: int, moment: datetime) -> VipPeriod | None:
    return db.session.scalar(
        select(VipPeriod).where(VipPeriod.member_id == member_id, VipPeriod.starts_at <= moment,
                                VipPeriod.ends_at > moment).order_by(VipPeriod.ends_at.desc()).limit(1))


def multipliers(member: Member, day: date) -> list[dict]:
    """The VIP plan's multiplier and, on its VIP day, the extra one (a day missing from a short month,
    such as the 31st, simply does not happen that month)."""
    if member.vip_until is None:
        return []
    now = clock.now()
    moment = now if clock.to_business_date(now) == day else clock.start_of_business_day(day) + timedelta(hours=12)
    period = active_period(member.id, moment)
    if period is None:
        return []
    plan = db.session.get(VipPlan, period.plan_id)
    benefits = plan.benefits or {}
    found = [{"name": f"vip:{plan.code}", "percent": int(benefits.get("points_multiplier_percent", 100))}]
    vip_day = benefits.get("vip_day") or {}
    if vip_day.get("day_of_month") == day.day:
        found.append({"name": "vip_day", "percent": int(vip_day.get("multiplier_percent", 100))})
    return found


# --- orders and payment -------------------------------------------------------------------------------

def _openid(member_id: int) -> str:
    openid = db.session.scalar(select(MemberIdentity.value).where(
        MemberIdentity.member_id == member_id, MemberIdentity.kind == "openid",
        MemberIdentity.app_id == current_app.config["WECHAT_APPID"]))
    if openid is None:
        raise Conflict("This member has no WeChat identity in this mini-program.", code="no_openid")
    return openid


def _new_order_no() -> str:
    return "VIP" + clock.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(4).upper()


def create_order(member_id: int, plan_id: int, client_ip: str | None = None) -> dict:
    """Create an order and return the mini-program's payment parameters (wx.requestPayment)."""
    plan = db.session.get(VipPlan, plan_id)
    if plan is None or not plan.active:
        raise NotFound("No such VIP plan on sale.", code="vip_plan_not_found")
    if db.session.get(Member, member_id) is None:
        raise NotFound("No such member.", code="member_not_found")
    order_no = _new_order_no()
    openid, price, name, duration = _openid(member_id), plan.price, plan.name, plan.duration_days
    db.session.rollback()  # the reads end here: no transaction (on SQLite, no write lock) across WeChat Pay's call
    prepay_id = wechat.jsapi_order(order_no, name, price, openid, current_app.config["WECHAT_PAY_NOTIFY_URL"],
                                   client_ip)
    order = VipOrder(order_no=order_no, member_id=member_id, plan_id=plan_id, amount=price,
                     duration_days=duration, prepay_id=prepay_id, created_at=clock.now())
    db.session.add(order)
    db.session.commit()
    return {"order": order, "payment": wechat.jsapi_params(prepay_id)}


def get_order(member_id: int, order_no: str) -> VipOrder:
    order = db.session.scalar(select(VipOrder).where(VipOrder.order_no == order_no))
    if order is None or order.member_id != member_id:
        raise NotFound("No such order.", code="vip_order_not_found")
    return order


def _lock_order(order_no: str) -> VipOrder | None:
    return db.session.scalar(select(VipOrder).where(VipOrder.order_no == order_no).with_for_update()
                             .execution_options(populate_existing=True))


def _activate(order: VipOrder, transaction_id: str) -> VipPeriod:
    """Paid: the VIP starts now, or where the current VIP ends (a renewal stacks)."""

    member = db.session.scalar(select(Member).where(Member.id == order.member_id).with_for_update()
                               .execution_options(populate_existing=True))
    now = clock.now()
    start = max(now, member.vip_until) if member.vip_until is not None else now
    period = VipPeriod(member_id=member.id, order_id=order.id, plan_id=order.plan_id, starts_at=start,
                       ends_at=start + timedelta(days=order.duration_days), created_at=now)
    db.session.add(period)
    order.state, order.transaction_id, order.paid_at = "paid", transaction_id, now
    member.vip_until = period.ends_at
    members_service.add_tag(member.id, "vip")
    db.session.flush()
    events.vip_activated.send(None, member_id=member.id, order_id=order.id, vip_until=member.vip_until)
    return period


def handle_notify(xml: bytes) -> tuple[bool, str]:
    """WeChat Pay's payment notify -> (acknowledge?, reason). Anything doubtful changes nothing and is logged."""
    data, ok, reason = wechat.read_payment_notify(xml)
    if data is None:
        return ok, reason
    order = _lock_order(str(data.get("out_trade_no", "")))
    answer = wechat.order_verdict(order, data, "VIP")
    if answer is not None:
        db.session.rollback()
        return answer
    transaction_id = str(data["transaction_id"])
    _activate(order, transaction_id)
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent notify for the same order won
        db.session.rollback()
    return True, "OK"


def mark_paid(order_no: str) -> VipOrder:
    """Demo mode only: pay an order without WeChat Pay (the `flask vip mark-paid` command)."""
    if current_app.config.get("MODE") != "embedded":
        raise Conflict("Orders can be marked paid by hand only in the embedded demo.", code="demo_only")
    order = _lock_order(order_no)
    if order is None:
        raise NotFound("No such order.", code="vip_order_not_found")
    if order.state != "paid":
        _activate(order, f"demo-{order.order_no}")
        db.session.commit()
    return order


# --- jobs ---------------------------------------------------------------------------------------------

EXPIRY_BATCH = 5000  # set-based: a batch costs two statements at 500 or 5000 periods


def expire_vips(day: date | str | None = None, batch_size: int = EXPIRY_BATCH) -> dict:
    """Close VIP periods that have ended and drop the `vip` tag of members with no VIP left: per batch one
    UPDATE that ends the periods and returns their members, one DELETE of those members' tags whose VIP has
    run out (a renewed member's `vip_until` is later: the tag stays). An ended period leaves the candidates,
    so batches need no keyset; a concurrent run ends a period once (state = 'active' is re-checked)."""

    now = clock.now()
    cutoff = now if day is None else min(now, clock.end_of_business_day(as_day(day)))
    periods = VipPeriod.__table__
    due = (select(periods.c.id).where(periods.c.state == "active", periods.c.ends_at <= cutoff)
           .order_by(periods.c.ends_at).limit(batch_size))
    counts = {"scanned": 0, "changed": 0, "skipped": 0, "failed": 0}
    while True:
        member_ids = list(db.session.scalars(
            update(periods).where(periods.c.id.in_(due.scalar_subquery()), periods.c.state == "active")
            .values(state="ended").returning(periods.c.member_id)))
        if not member_ids:
            break
        counts["scanned"] += len(member_ids)
        counts["changed"] += len(member_ids)
        members = sorted(set(member_ids))
        run_out = select(Member.id).where(any_of(Member.id, members),
                                          or_(Member.vip_until.is_(None), Member.vip_until <= cutoff))
        db.session.execute(delete(MemberTag).where(MemberTag.tag == "vip", any_of(MemberTag.member_id, members),
                                                   MemberTag.member_id.in_(run_out)))
        db.session.commit()
    db.session.commit()
    return counts
