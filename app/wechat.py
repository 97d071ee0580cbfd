"""WeChat through wechatpy (the mini-program API and WeChat Pay), with the API bases configurable so tests
talk to a fake on loopback.

wechatpy 1.8 hard-codes the access-token URL and lacks getuserphonenumber; both are handled here and
nowhere else. The access token is shared across processes in Redis (wechatpy's RedisStorage).
"""
from __future__ import annotations

import logging
from xml.parsers.expat import ExpatError

import requests
import xmltodict
from flask import Response, current_app, request
from wechatpy import WeChatClient
from wechatpy.exceptions import InvalidSignatureException, WeChatClientException, WeChatPayException
from wechatpy.pay import WeChatPay
from wechatpy.session.redisstorage import RedisStorage

from app import clock
from app.errors import ApiError, ServiceUnavailable, Unauthorized
from app.redis_store import get_redis

INVALID_CODE_ERRCODES = {40029, 40163, 40226, 45011}
log = logging.getLogger(__name__)


class BrandWeChatClient(WeChatClient):
    """WeChatClient whose every URL (token included) starts at `api_base`."""

    def __init__(self, appid, secret, api_base: str, session=None, timeout: float = 5):
        self._api_base = api_base.rstrip("/")
        super().__init__(appid, secret, session=session, timeout=timeout)
        self.API_BASE_URL = f"{self._api_base}/cgi-bin/"
        self.wxa.API_BASE_URL = f"{self._api_base}/"

    def fetch_access_token(self):
        return self._fetch_access_token(
            url=f"{self._api_base}/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


def client() -> BrandWeChatClient:
    """A client over one HTTP session (keep-alive: a batch of messages reuses its connections). Proxies come
    from WECHAT_HTTP_PROXY only: requests' reading of the proxy environment cost a third of each call's CPU."""
    cfg = current_app.config
    storage = RedisStorage(get_redis(), prefix=f"wechatpy:{cfg['WECHAT_APPID']}")
    wx = BrandWeChatClient(cfg["WECHAT_APPID"], cfg["WECHAT_SECRET"], cfg["WECHAT_API_BASE"], session=storage)
    wx._http.trust_env = False
    if cfg.get("WECHAT_HTTP_PROXY"):
        wx._http.proxies = {"http": cfg["WECHAT_HTTP_PROXY"], "https": cfg["WECHAT_HTTP_PROXY"]}
    return wx


def _call(func, *args, invalid_message: str, invalid_code: str, **kwargs):
    try:
        return func(*args, **kwargs)
    except WeChatClientException as exc:
        if exc.errcode in INVALID_CODE_ERRCODES:
            raise Unauthorized(invalid_message, code=invalid_code) from None
        current_app.logger.warning("WeChat error %s: %s", exc.errcode, exc.errmsg)
        raise ServiceUnavailable("WeChat answered with an error; try again.", code="wechat_error") from None
    except requests.RequestException:
        raise ServiceUnavailable("WeChat cannot be reached; try again.", code="wechat_unreachable") from None


def code_to_session(code: str) -> dict:
    """wx.login code -> {openid, unionid?}. The session_key is dropped here: it never leaves this function."""
    data = _call(
        client().wxa.code_to_session, code,
        invalid_message="WeChat rejected the login code.", invalid_code="invalid_wechat_code",
    )
    return {"openid": data["openid"], "unionid": data.get("unionid")}


def phone_number(code: str) -> str:
    """getPhoneNumber code -> the phone number (wxa/business/getuserphonenumber)."""
    wx = client()
    data = _call(
        wx.post, "wxa/business/getuserphonenumber", data={"code": code}, api_base_url=f"{wx._api_base}/",
        invalid_message="WeChat rejected the phone code.", invalid_code="invalid_phone_code",
    )
    return data["phone_info"]["purePhoneNumber"]


# --- WeChat Pay ---------------------------------------------------------------------------------------

class BrandWeChatPay(WeChatPay):
    """wechatpy's WeChatPay whose every URL starts at the configured API base (a fake one in tests)."""

    def __init__(self, *args, api_base: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.API_BASE_URL = api_base.rstrip("/") + "/"

    def parse_payment_result(self, xml: bytes) -> dict:
        """wechatpy's, for the shape WeChat sends only: one `<xml>` of distinct elements holding text.
        wechatpy reads whatever xmltodict makes of the body, so `<xml>abc</xml>` (a string), `<xml/>` (None)
        or a repeated `<total_fee>` (a list) crashed it; each is a bad notify (InvalidSignatureException)."""
        try:
            parsed = xmltodict.parse(xml)
        except (xmltodict.ParsingInterrupted, ExpatError):
            raise InvalidSignatureException() from None
        fields = parsed.get("xml") if isinstance(parsed, dict) else None
        if not isinstance(fields, dict) or not fields or any(
                value is not None and not isinstance(value, str) for value in fields.values()):
            raise InvalidSignatureException()
        return super().parse_payment_result(xml)


def jsapi_order(order_no: str, body: str, total_fee: int, openid: str, notify_url: str,
                client_ip: str | None = None) -> str:
    """A JSAPI unified order (the shopper pays in the mini-program) -> its prepay_id; a refusal, an odd answer or
    no answer is a 503 and nothing is stored. Call it outside any transaction."""
    pay = pay_client()
    try:
        answer = pay.order.create(trade_type="JSAPI", body=body[:120], total_fee=total_fee, notify_url=notify_url,
                                  client_ip=client_ip or "127.0.0.1", user_id=openid, out_trade_no=order_no)
    except WeChatPayException as exc:
        log.warning("WeChat Pay unified order failed: %s %s", exc.errcode, exc.errmsg or exc.return_msg)
        raise ServiceUnavailable("WeChat Pay refused the order; try again.", code="wechat_pay_error") from None
    except requests.RequestException:
        raise ServiceUnavailable("WeChat Pay cannot be reached; try again.", code="wechat_pay_unreachable") from None
    if not isinstance(answer, dict) or not pay.check_signature(dict(answer)) or not answer.get("prepay_id"):
        log.warning("WeChat Pay unified order answer without a valid signature or prepay_id")
        raise ServiceUnavailable("WeChat Pay answered oddly; try again.", code="wechat_pay_error")
    return answer["prepay_id"]


def jsapi_params(prepay_id: str) -> dict:
    """What the mini-program passes to wx.requestPayment for this prepay_id."""
    return pay_client().jsapi.get_jsapi_params(prepay_id, timestamp=str(int(clock.now().timestamp())))


def read_payment_notify(xml: bytes) -> tuple[dict | None, bool, str]:
    """WeChat Pay's payment notify, checked as far as no order is needed: (data, acknowledge?, reason). `data` is
    the payment to apply, or None when there is none: a bad signature or unreadable XML (not acknowledged), no
    payment (acknowledged, so WeChat stops), another merchant or app (not acknowledged). Each domain then checks
    the order, the amount and the transaction id, under its order's lock."""
    pay = pay_client()
    try:
        data = pay.parse_payment_result(xml)
    except (InvalidSignatureException, ValueError, TypeError):  # TypeError: an empty <total_fee/>, signed
        log.warning("payment notify rejected: bad signature or unreadable XML")
        return None, False, "invalid signature"
    cfg = current_app.config
    if data.get("return_code") != "SUCCESS" or data.get("result_code") != "SUCCESS":
        log.info("payment notify for %s reports no payment (%s)", data.get("out_trade_no"), data.get("err_code"))
        return None, True, "OK"
    if data.get("appid") != cfg["WECHAT_APPID"] or data.get("mch_id") != cfg["WECHAT_MCH_ID"]:
        log.warning("payment notify for another merchant/app: %s %s", data.get("appid"), data.get("mch_id"))
        return None, False, "wrong merchant"
    return data, True, "OK"


def order_verdict(order, data: dict, what: str) -> tuple[bool, str] | None:
    """The checks every paid product makes of a checked notify against its locked order (`order_no`, `amount`,
    `state`, `transaction_id`): None when the payment is to be applied, else the answer for WeChat. A repeated
    notify of a paid order is acknowledged (WeChat stops) and changes nothing; another transaction paying it again
    is logged for a refund by hand. The caller rolls back on an answer."""
    if order is None:
        log.warning("%s notify for an unknown order %r", what, data.get("out_trade_no"))
        return False, "unknown order"
    if data.get("total_fee") != order.amount:
        log.warning("%s notify for %s with amount %r, expected %s", what, order.order_no, data.get("total_fee"),
                    order.amount)
        return False, "wrong amount"
    transaction_id = str(data.get("transaction_id") or "")
    if not transaction_id:
        return False, "no transaction id"
    if order.state == "paid":
        if order.transaction_id != transaction_id:
            log.error("%s order %s paid again by transaction %s (first: %s): refund by hand", what, order.order_no,
                      transaction_id, order.transaction_id)
        return True, "OK"
    return None


MAX_NOTIFY_BYTES = 64 * 1024
SUCCESS_XML = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
FAIL_XML = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[{}]]></return_msg></xml>"
# The OpenAPI description of a notify route (flask-smorest's `doc`): XML in, XML out, no token.
NOTIFY_DOC = {
    "requestBody": {"required": True, "content": {"text/xml": {"schema": {"type": "string"}}}},
    "responses": {"200": {"description": "WeChat's XML answer: return_code SUCCESS or FAIL",
                          "content": {"text/xml": {"schema": {"type": "string"}}}}},
    "security": [],
}


def answer_notify(handle) -> Response:
    """A notify route's whole answer: the body read bounded (never more than MAX_NOTIFY_BYTES + 1 bytes in memory,
    whatever is sent), `handle(raw) -> (acknowledge?, reason)` from the owning service, WeChat's XML answer."""
    too_large = (request.content_length or 0) > MAX_NOTIFY_BYTES
    raw = b"" if too_large else request.stream.read(MAX_NOTIFY_BYTES + 1)
    if too_large or len(raw) > MAX_NOTIFY_BYTES:
        ok, reason = False, "too large"
    else:
        try:
            ok, reason = handle(raw)
        except ApiError as error:
            ok, reason = False, error.code
    body = SUCCESS_XML if ok else FAIL_XML.format(reason)
    return Response(body, status=200, content_type="text/xml; charset=utf-8")


def pay_client() -> BrandWeChatPay:
    cfg = current_app.config
    return BrandWeChatPay(cfg["WECHAT_APPID"], cfg["WECHAT_PAY_API_KEY"], cfg["WECHAT_MCH_ID"],
                          mch_cert=cfg["WECHAT_PAY_MCH_CERT"], mch_key=cfg["WECHAT_PAY_MCH_KEY"],
                          api_base=cfg["WECHAT_PAY_API_BASE"], timeout=5)
