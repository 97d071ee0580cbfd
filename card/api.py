"""The member card: the shopper's own profile (/me) and what a clerk sees after scanning a member code."""
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import current_member_id, issue_token, member_required, staff_required
from card import service
from members import member_code
from members import service as members_service
from members.schemas import PhoneBound, PhoneIn, Profile, ProfilePatch, ScanIn, ScanOut

me_blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The logged-in shopper")
pos_blp = Blueprint("pos_members", __name__, url_prefix="/api/v1/pos", description="Till: member scan")


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
        members_service.update_profile(current_member_id(), body)
        return service.profile(current_member_id())


@me_blp.route("/phone")
class MyPhone(MethodView):
    @member_required
    @me_blp.arguments(PhoneIn)
    @me_blp.response(200, PhoneBound)
    def post(self, body):
        """Bind the phone from a getPhoneNumber code. The phone of an imported customer who never used the
        mini-program links the shopper to that customer (their points, tier and history): the answer is that
        member's profile with a new `token`, and the old token stops working."""
        member = members_service.bind_phone(current_member_id(), body["code"])
        answer = service.profile(member.id)
        if member.id != current_member_id():
            answer["token"] = issue_token("member", member.id)
        return answer


@pos_blp.route("/scan")
class Scan(MethodView):
    @staff_required
    @pos_blp.arguments(ScanIn)
    @pos_blp.response(200, ScanOut)
    def post(self, body):
        """Resolve a scanned member code to a (masked) member summary."""
        return service.scan_summary(member_code.resolve(body["member_code"]).id)


blueprints = [me_blp, pos_blp]
