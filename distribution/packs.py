"""The promoter pack (推广员礼包): a member buys the role through WeChat Pay, on the VIP card's rules. The signed
payment notify is the only thing that makes them a promoter: it must name an order we created, for exactly its
amount; the order row is locked, so a replayed or concurrent notify changes nothing twice."""
from __future__ import annotations

import logging
import secrets
from urllib.parse import urljoin

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import clock, wechat
from app.errors import ApiError, Conflict, Forbidden, NotFound
from app.extensions import db
from distribution import program, promoters
from distribution.models import PackOrder
from members.models import MemberIdentity

log = logging.getLogger(__name__)
PACK_NAME = "推广员礼包"


def notify_url() -> str:
    """The pack's notify, beside the VIP card's (`WECHAT_PAY_NOTIFY_URL`): /api/v1/pay/promoter-notify."""
    return urljoin(current_app.config["WECHAT_PAY_NOTIFY_URL"], "promoter-notify")


def _new_order_no() -> str:
    return "PRO" + clock.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(4).upper()


def create_order(member_id: int, client_ip: str | None = None) -> dict:
    """An order for the pack at today's price -> the parameters for wx.requestPayment."""
    settings = program.settings()
    if not settings.enabled or not settings.pack_price:
        raise Forbidden("The promoter pack is not on sale.", code="pack_not_on_sale")
    found = promoters.of_member(member_id)
    if found is not None:
        if found.state == "active":
            raise Conflict("This member is already a promoter.", code="already_promoter")
        raise Forbidden("Marketing revoked this promoter; only marketing can give the role back.",
                        code="promoter_revoked")
    openid = db.session.scalar(select(MemberIdentity.value).where(
        MemberIdentity.member_id == member_id, MemberIdentity.kind == "openid",
        MemberIdentity.app_id == current_app.config["WECHAT_APPID"]))
    if openid is None:
        raise Conflict("This member has no WeChat identity in this mini-program.", code="no_openid")
    order_no, price = _new_order_no(), settings.pack_price
    db.session.rollback()  # no transaction (on SQLite, no write lock) across WeChat Pay's call
    prepay_id = wechat.jsapi_order(order_no, PACK_NAME, price, openid, notify_url(), client_ip)
    order = PackOrder(order_no=order_no, member_id=member_id, amount=price, state="created", prepay_id=prepay_id,
                      created_at=clock.now())
    db.session.add(order)
    db.session.commit()
    return {"order": order, "payment": wechat.jsapi_params(prepay_id)}


def get_order(member_id: int, order_no: str) -> PackOrder:
    order = db.session.scalar(select(PackOrder).where(PackOrder.order_no == order_no))
    if order is None or order.member_id != member_id:
        raise NotFound("No such order.", code="pack_order_not_found")
    return order


def handle_notify(xml: bytes) -> tuple[bool, str]:
    """WeChat Pay's notify for a pack -> (acknowledge?, reason). Anything doubtful changes nothing and is logged."""
    data, ok, reason = wechat.read_payment_notify(xml)
    if data is None:
        return ok, reason
    order = db.session.scalar(select(PackOrder).where(PackOrder.order_no == str(data.get("out_trade_no", "")))
                              .with_for_update().execution_options(populate_existing=True))
    answer = wechat.order_verdict(order, data, "pack")
    if answer is not None:
        db.session.rollback()
        return answer
    transaction_id = str(data["transaction_id"])
    order.state, order.transaction_id, order.paid_at = "paid", transaction_id, clock.now()
    try:
        with db.session.begin_nested():
            promoters.become(order.member_id, "pack")
    except ApiError as error:  # granted meanwhile, or revoked: the money is kept, the role is marketing's call
        log.error("pack order %s paid but not applied (%s): refund by hand or grant", order.order_no, error.code)
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent notify for the same order won
        db.session.rollback()
    return True, "OK"
