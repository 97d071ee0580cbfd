"""A fake WeChat API on a loopback port; wechatpy talks to it over real HTTP. WeChat's servers cannot be
reached from tests or from the demo, so both run against this.

Tests register what WeChat should answer (login codes, phone codes, failures); every request is kept
in `calls` so a test can assert what was (or was not) sent. Other domains add routes via `route()`.
`FakeWeChatPay` adds WeChat Pay v2 (XML, MD5 signatures). `start_for_demo` runs both for `make demo`:
any phone code binds a phone derived from it, subscribe messages are accepted, and an order is paid a
moment after it is created (the fake posts the signed notify, as WeChat Pay does once the shopper pays).
"""
from __future__ import annotations

import hashlib
import io
import json
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import requests
import xmltodict
from wechatpy.pay.utils import calculate_signature, dict_to_xml
from werkzeug.wrappers import Request, Response


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, as WeChat's servers answer (werkzeug's development server closes every
    connection), handing each request to the fake as a WSGI call; no access log line per request."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 1 << 16  # headers and body leave in one write

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = urlsplit(self.path)
        environ = {"REQUEST_METHOD": self.command, "PATH_INFO": url.path, "QUERY_STRING": url.query,
                   "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
                   "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(self.server.server_port),
                   "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
                   "wsgi.errors": io.StringIO(), "wsgi.version": (1, 0), "wsgi.multithread": True,
                   "wsgi.multiprocess": False, "wsgi.run_once": False}
        answer: dict = {}

        def start_response(status, headers, exc_info=None):
            answer["status"], answer["headers"] = status, headers

        payload = b"".join(self.server.app(environ, start_response))
        code, _, reason = answer["status"].partition(" ")
        self.send_response(int(code), reason)
        for name, value in answer["headers"]:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    do_GET = do_POST = _serve

    def log_message(self, format, *args) -> None:
        pass


class FakeWeChat:
    def __init__(self) -> None:
        self.logins: dict[str, dict] = {}
        self.phones: dict[str, str] = {}
        self.calls: list[dict] = []
        self.routes: dict[str, Callable[[Request, dict], dict | Response]] = {}
        self.fail_next: dict[str, dict] = {}  # path -> errcode answer for the next call
        self.token_counter = 0
        self._server = None
        self.base_url = ""

    # -- what tests say ------------------------------------------------------------------------------
    def add_login(self, code: str, openid: str, unionid: str | None = None) -> None:
        self.logins[code] = {"openid": openid, "unionid": unionid}

    def add_phone(self, code: str, phone: str) -> None:
        self.phones[code] = phone

    def route(self, path: str, handler: Callable[[Request, dict], dict | Response]) -> None:
        self.routes[path] = handler

    def reset(self) -> None:
        self.logins.clear()
        self.phones.clear()
        self.calls.clear()
        self.fail_next.clear()
        for path in [p for p in self.routes if p not in self._builtin]:
            del self.routes[path]

    # -- the server ----------------------------------------------------------------------------------
    def _token(self, request: Request, body: dict) -> dict:
        self.token_counter += 1
        return {"access_token": f"fake-token-{self.token_counter}", "expires_in": 7200}

    def _code2session(self, request: Request, body: dict) -> dict:
        found = self.logins.get(request.args.get("js_code", ""))
        if found is None:
            return {"errcode": 40029, "errmsg": "invalid code"}
        answer = {"openid": found["openid"], "session_key": "fake-session-key-SECRET"}
        if found["unionid"]:
            answer["unionid"] = found["unionid"]
        return answer

    def _phone(self, request: Request, body: dict) -> dict:
        phone = self.phones.get(body.get("code", ""))
        if phone is None:
            return {"errcode": 40029, "errmsg": "invalid code"}
        return {"errcode": 0, "errmsg": "ok", "phone_info": {"phoneNumber": phone, "purePhoneNumber": phone,
                                                               "countryCode": "86"}}

    @property
    def _builtin(self) -> set[str]:
        return {"/cgi-bin/token", "/sns/jscode2session", "/wxa/business/getuserphonenumber"}

    def __call__(self, environ, start_response):
        request = Request(environ)
        raw = request.get_data()
        try:
            body = json.loads(raw) if raw and raw.strip().startswith(b"{") else {}
        except ValueError:
            body = {}
        self.calls.append({"path": request.path, "args": dict(request.args), "body": body, "raw": raw})
        if request.path in self.fail_next:
            answer = self.fail_next.pop(request.path)
        else:
            handler = self.routes.get(request.path)
            answer = handler(request, body) if handler else {"errcode": 404, "errmsg": "no such fake route"}
        if isinstance(answer, Response):
            return answer(environ, start_response)
        return Response(json.dumps(answer), content_type="application/json")(environ, start_response)

    def start(self) -> str:
        self.routes.update({"/cgi-bin/token": self._token, "/sns/jscode2session": self._code2session,
                            "/wxa/business/getuserphonenumber": self._phone})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.app = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        return self.base_url

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()


class FakeWeChatPay:
    def __init__(self, fake_wechat, api_key: str, appid: str, mch_id: str) -> None:
        self.api_key, self.appid, self.mch_id = api_key, appid, mch_id
        self.orders: dict[str, dict] = {}
        self.fail_next: str | None = None  # an err_code to answer the next unified order with
        self.on_order = None  # called with each accepted order (the demo pays it)
        self.transfers: dict[str, dict] = {}  # partner_trade_no -> the answer WeChat gave (a resend gets it again)
        self.transfer_outcomes: list[str] = []  # what the next transfers answer: SUCCESS (default), NOTENOUGH, ...
        fake_wechat.route("/pay/unifiedorder", self._unified_order)
        fake_wechat.route("/mmpaymkttransfers/promotion/transfers", self._transfer)

    def _signed(self, data: dict, key: str | None = None) -> str:
        return dict_to_xml(data, calculate_signature(data, key or self.api_key))

    def _unified_order(self, request: Request, body: dict) -> Response:
        data = dict(xmltodict.parse(request.get_data())["xml"])
        sign = data.pop("sign", None)
        if sign != calculate_signature(data, self.api_key):
            answer = {"return_code": "FAIL", "return_msg": "签名错误"}
        elif self.fail_next:
            answer = {"return_code": "SUCCESS", "result_code": "FAIL", "err_code": self.fail_next,
                      "err_code_des": "fake failure", "appid": self.appid, "mch_id": self.mch_id,
                      "nonce_str": secrets.token_hex(8)}
            self.fail_next = None
        else:
            self.orders[data["out_trade_no"]] = data
            if self.on_order is not None:
                self.on_order(data)
            answer = {"return_code": "SUCCESS", "return_msg": "OK", "result_code": "SUCCESS", "appid": self.appid,
                      "mch_id": self.mch_id, "nonce_str": secrets.token_hex(8), "trade_type": "JSAPI",
                      "prepay_id": f"wx-prepay-{data['out_trade_no']}"}
        return Response(self._signed(answer), content_type="text/xml")

    def _transfer(self, request: Request, body: dict) -> Response:
        """企业付款到零钱 (v2): SUCCESS, or a refusal such as NOTENOUGH (the merchant's balance is short) or
        NAME_MISMATCH (re_user_name is not the wallet's real name); SYSTEMERROR is an unknown outcome. The same
        partner_trade_no is paid once: sent again, it gets the first answer."""
        data = dict(xmltodict.parse(request.get_data())["xml"])
        sign = data.pop("sign", None)
        number = data.get("partner_trade_no", "")
        if sign != calculate_signature(data, self.api_key):
            answer = {"return_code": "FAIL", "return_msg": "签名错误"}
        elif number in self.transfers:
            answer = self.transfers[number]
        else:
            outcome = self.transfer_outcomes.pop(0) if self.transfer_outcomes else "SUCCESS"
            if outcome == "SUCCESS":
                answer = {"return_code": "SUCCESS", "result_code": "SUCCESS", "mch_appid": self.appid,
                          "mchid": self.mch_id, "nonce_str": secrets.token_hex(8), "partner_trade_no": number,
                          "payment_no": f"1000018301{secrets.randbelow(10**12):012d}",
                          "payment_time": "2026-03-01 10:00:00"}
            else:
                answer = {"return_code": "SUCCESS", "result_code": "FAIL", "err_code": outcome,
                          "err_code_des": "fake failure", "mch_appid": self.appid, "mchid": self.mch_id,
                          "nonce_str": secrets.token_hex(8)}
            if outcome != "SYSTEMERROR":  # an unknown outcome is decided only when sent again
                self.transfers[number] = answer
        return Response(dict_to_xml(answer, calculate_signature(answer, self.api_key)), content_type="text/xml")

    def notify_xml(self, order_no: str, total_fee: int, transaction_id: str | None = None, key: str | None = None,
                   **overrides) -> bytes:
        data = {
            "appid": self.appid, "mch_id": self.mch_id, "nonce_str": secrets.token_hex(8), "result_code": "SUCCESS",
            "return_code": "SUCCESS", "openid": "o-fake", "out_trade_no": order_no, "total_fee": str(total_fee),
            "cash_fee": str(total_fee), "fee_type": "CNY", "transaction_id": transaction_id or f"42000{order_no}",
            "time_end": "20260301100000", "trade_type": "JSAPI", "bank_type": "CMC", "is_subscribe": "N",
        }
        data.update(overrides)
        return self._signed(data, key).encode()


SUBSCRIBE_SEND = "/cgi-bin/message/subscribe/send"


def demo_phone(code: str) -> str:
    """A phone number of the demo for any getPhoneNumber code: 139 and eight digits of the code's hash."""
    return "139" + str(int(hashlib.sha256(code.encode()).hexdigest(), 16))[:8]


class DemoWeChat(FakeWeChat):
    """The fake as the demo runs it: phone codes always bind, messages are accepted, orders get paid."""

    def _phone(self, request: Request, body: dict) -> dict:
        phone = self.phones.get(body.get("code", "")) or demo_phone(body.get("code", ""))
        return {"errcode": 0, "errmsg": "ok", "phone_info": {"phoneNumber": phone, "purePhoneNumber": phone,
                                                               "countryCode": "86"}}


def start_for_demo(appid: str, mch_id: str, api_key: str, notify_url: str, pay_after: float = 2.0) -> str:
    """Start the demo's WeChat (mini-program API and Pay) on a loopback port; returns its base URL."""
    fake = DemoWeChat()
    fake.route(SUBSCRIBE_SEND, lambda request, body: {"errcode": 0, "errmsg": "ok", "msgid": secrets.randbits(40)})
    pay = FakeWeChatPay(fake, api_key, appid, mch_id)

    def paid(order: dict) -> None:
        time.sleep(pay_after)  # the shopper confirms in WeChat's payment sheet
        xml = pay.notify_xml(order["out_trade_no"], int(order["total_fee"]))
        try:
            requests.post(order.get("notify_url") or notify_url, data=xml, headers={"Content-Type": "text/xml"},
                          timeout=10)  # WeChat Pay posts to the order's own notify_url
        except requests.RequestException:
            pass  # the API is stopping; WeChat Pay would retry, the demo does not need to

    pay.on_order = lambda order: threading.Thread(target=paid, args=(order,), daemon=True).start()
    return fake.start()
