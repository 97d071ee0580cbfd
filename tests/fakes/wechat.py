"""A fake WeChat API on a loopback port; wechatpy talks to it over real HTTP.

Tests register what WeChat should answer (login codes, phone codes, failures); every request is kept
in `calls` so a test can assert what was (or was not) sent. Other domains add routes via `route()`.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


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
        self._server = make_server("127.0.0.1", 0, self, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        return self.base_url

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
