"""Shopper login and the rotating member code."""
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import current_member_id, member_required
from members import member_code, service
from members.schemas import LoginOut, MemberCodeOut, WechatLoginIn

auth_blp = Blueprint("member_auth", __name__, url_prefix="/api/v1/auth", description="Shopper login")
code_blp = Blueprint("me_code", __name__, url_prefix="/api/v1/me", description="The logged-in shopper's member code")


@auth_blp.route("/wechat-login")
class WechatLogin(MethodView):
    @auth_blp.arguments(WechatLoginIn)
    @auth_blp.response(200, LoginOut)
    def post(self, body):
        """Mini-program login with a `wx.login` code -> member token."""
        return service.wechat_login(body["code"], body.get("scene"), body.get("inviter_code"))


@code_blp.route("/code")
class MyCode(MethodView):
    @member_required
    @code_blp.response(200, MemberCodeOut)
    def get(self):
        """The rotating member code to show at the till."""
        return member_code.issue(current_member_id())


blueprints = [auth_blp, code_blp]
