"""Shopper login and profile routes, the member code, the till's scan, and the console's member lookup."""
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app.auth import admin_required, current_member_id, member_required, staff_required
from members import admin, member_code, service
from members.admin_schemas import AdminMemberDetail, AdminMemberPage, AdminMemberQuery
from members.schemas import (
    LoginOut,
    MemberCodeOut,
    PhoneIn,
    Profile,
    ProfilePatch,
    ScanIn,
    ScanOut,
    WechatLoginIn,
)

auth_blp = Blueprint("member_auth", __name__, url_prefix="/api/v1/auth", description="Shopper login")
me_blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The logged-in shopper")
pos_blp = Blueprint("pos_members", __name__, url_prefix="/api/v1/pos", description="Till: member scan")
admin_blp = Blueprint("admin_members", __name__, url_prefix="/api/v1/admin/members",
                      description="Marketing: find members and open one (phones masked; opening one is audited)")


@auth_blp.route("/wechat-login")
class WechatLogin(MethodView):
    @auth_blp.arguments(WechatLoginIn)
    @auth_blp.response(200, LoginOut)
    def post(self, body):
        """Mini-program login with a `wx.login` code -> member token."""
        return service.wechat_login(body["code"], body.get("scene"), body.get("inviter_code"))


@me_blp.route("")
class Me(MethodView):
    @member_required
    @me_blp.response(200, Profile)
    def get(self):
        """My profile, tier, points and VIP."""
        return service.profile(current_member_id())

    @member_required
    @me_blp.arguments(ProfilePatch)
    @me_blp.response(200, Profile)
    def patch(self, body):
        """Edit nickname, avatar, gender; set the birthday (once)."""
        service.update_profile(current_member_id(), body)
        return service.profile(current_member_id())


@me_blp.route("/phone")
class MyPhone(MethodView):
    @member_required
    @me_blp.arguments(PhoneIn)
    @me_blp.response(200, Profile)
    def post(self, body):
        """Bind the phone from a getPhoneNumber code."""
        service.bind_phone(current_member_id(), body["code"])
        return service.profile(current_member_id())


@me_blp.route("/code")
class MyCode(MethodView):
    @member_required
    @me_blp.response(200, MemberCodeOut)
    def get(self):
        """The rotating member code to show at the till."""
        return member_code.issue(current_member_id())


@pos_blp.route("/scan")
class Scan(MethodView):
    @staff_required
    @pos_blp.arguments(ScanIn)
    @pos_blp.response(200, ScanOut)
    def post(self, body):
        """Resolve a scanned member code to a (masked) member summary."""
        return service.scan_summary(member_code.resolve(body["member_code"]).id)


@admin_blp.route("")
class AdminMembers(MethodView):
    @admin_required
    @admin_blp.arguments(AdminMemberQuery, location="query", unknown=RAISE)
    @admin_blp.response(200, AdminMemberPage)
    def get(self, args):
        """Search members; every filter given must match. Newest first."""
        limit, cursor = args.pop("limit"), args.pop("cursor")
        return admin.search(args, limit, cursor)


@admin_blp.route("/<int:member_id>")
class AdminMember(MethodView):
    @admin_required
    @admin_blp.response(200, AdminMemberDetail)
    def get(self, member_id):
        """One member: profile, tier, points, VIP, tags, latest ledger, coupons, tier history, referrals.
        Writes a `member.view` audit row."""
        return admin.detail(member_id)


blueprints = [auth_blp, me_blp, pos_blp, admin_blp]
