"""Thin routes of the points ledger: the points policy, adjustments and a member's ledger (marketing); the
shopper's own ledger."""
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app.auth import (
    admin_required,
    current_member_id,
    member_required,
)
from app.pagination import ListArgs
from points import adjustments, history, policy
from points.schemas import (
    AdjustmentHeaders,
    AdjustmentIn,
    AdjustmentOut,
    LedgerPage,
    PolicyIn,
    PolicyOut,
)

admin_blp = Blueprint("points_admin", __name__, url_prefix="/api/v1/admin",
                      description="Marketing: points policy, members' ledgers and adjustments")




me_blp = Blueprint("me_points", __name__, url_prefix="/api/v1/me/points", description="The shopper's points")


@admin_blp.route("/points-policy")
class PointsPolicyView(MethodView):
    @admin_required
    @admin_blp.response(200, PolicyOut)
    def get(self):
        """The points policy: earning rate, expiry, return window, value at the till, deduction cap."""
        return policy.get()

    @admin_required
    @admin_blp.arguments(PolicyIn)
    @admin_blp.response(200, PolicyOut)
    def put(self, body):
        """Replace the points policy (audited)."""
        return policy.update(body)


@admin_blp.route("/members/<int:member_id>/points/ledger")
class MemberLedgerView(MethodView):
    @admin_required
    @admin_blp.arguments(ListArgs, location="query", unknown=RAISE)
    @admin_blp.response(200, LedgerPage)
    def get(self, args, member_id):
        """One member's points history, newest first (the member detail's `ledger.next_cursor` continues here)."""
        return history.admin_member_ledger(member_id, args["limit"], args["cursor"])


@admin_blp.route("/members/<int:member_id>/points-adjustments")
class AdjustmentsView(MethodView):
    @admin_required
    @admin_blp.arguments(AdjustmentHeaders, location="headers")
    @admin_blp.arguments(AdjustmentIn)
    @admin_blp.response(201, AdjustmentOut)
    def post(self, headers, body, member_id):
        """Add or take points with a reason (audited; never below zero; retry-safe with Idempotency-Key)."""
        return adjustments.adjust(member_id, body["delta"], body["reason"], headers.get("idempotency_key"))


@me_blp.route("/ledger")
class MyLedgerView(MethodView):
    @member_required
    @me_blp.arguments(ListArgs, location="query")
    @me_blp.response(200, LedgerPage)
    def get(self, args):
        """My points history, newest first."""
        return history.member_ledger(current_member_id(), args["limit"], args["cursor"])


blueprints = [admin_blp, me_blp]
