"""A fake WeChat Pay v2 (XML, MD5 signatures) on the fake WeChat server's loopback port.

`/pay/unifiedorder` checks the merchant's signature and answers a signed prepay id; `notify_xml()` builds
the signed callback WeChat Pay would POST to /api/v1/pay/notify (or a forged one, with another key).
"""
from __future__ import annotations

import secrets

import xmltodict
from wechatpy.pay.utils import calculate_signature, dict_to_xml
from werkzeug.wrappers import Request, Response


class FakeWeChatPay:
    def __init__(self, fake_wechat, api_key: str, appid: str, mch_id: str) -> None:
        self.api_key, self.appid, self.mch_id = api_key, appid, mch_id
        self.orders: dict[str, dict] = {}
        self.fail_next: str | None = None  # an err_code to answer the next unified order with
        fake_wechat.route("/pay/unifiedorder", self._unified_order)

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
            answer = {"return_code": "SUCCESS", "return_msg": "OK", "result_code": "SUCCESS", "appid": self.appid,
                      "mch_id": self.mch_id, "nonce_str": secrets.token_hex(8), "trade_type": "JSAPI",
                      "prepay_id": f"wx-prepay-{data['out_trade_no']}"}
        return Response(self._signed(answer), content_type="text/xml")

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
