"""Shopper login and the rotating member code."""
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import current_member_id, member_required
from app.extensions import client_address, limiter
from members import member_code, service
from members.schemas import LoginOut, MemberCodeOut, WechatLoginIn

auth_blp = Blueprint("member_auth", __name__, url_prefix="/api/v1/auth", description="Shopper login")
code_blp = Blueprint("me_code", __name__, url_prefix="/api/v1/me", description="The logged-in shopper's member code")


def _client_key() -> str:
    return f"wechat-login:{client_address()}"


@auth_blp.route("/wechat-login")
class WechatLogin(MethodView):
    # Every attempt counts: each may create a member and costs a call to WeChat.
    decorators = [limiter.limit(lambda: current_app.config["WECHAT_LOGINS_PER_CLIENT"], key_func=_client_key)]

    @auth_blp.arguments(WechatLoginIn)
    @auth_blp.response(200, LoginOut)
    def post(self, body):
        """Mini-program login with a `wx.login` code -> member token. Throttled per client address (30 a minute
        by default): past it, 429."""
        return service.wechat_login(body["code"], body.get("scene"), body.get("inviter_code"))


@code_blp.route("/code")
class MyCode(MethodView):
    @member_required
    @code_blp.response(200, MemberCodeOut)
    def get(self):
        """The rotating member code to show at the till."""
        return member_code.issue(current_member_id())


blueprints = [auth_blp, code_blp]
