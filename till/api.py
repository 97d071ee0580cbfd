"""Thin routes of the till: earn rules (marketing); quote, purchase and refund (staff)."""
from flask import jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import (
    STORE_ROLES,
    admin_required,
    current_identity,
    current_operator_id,
    current_store_id,
    staff_required,
)
from till import earn_rules, pricing, purchases
from till.schemas import (
    EarnRuleIn,
    EarnRuleOut,
    EarnRulePage,
    EarnRulePatch,
    EarnRuleQuery,
    OrderOut,
    PurchaseIn,
    PurchaseOut,
    QuoteIn,
    QuoteOut,
    RefundIn,
    RefundOut,
)

admin_blp = Blueprint("till_admin", __name__, url_prefix="/api/v1/admin", description="Marketing: earn rules")
pos_blp = Blueprint("pos_points", __name__, url_prefix="/api/v1/pos", description="Till: quote, purchase, refund")


@admin_blp.route("/earn-rules")
class EarnRulesView(MethodView):
    @admin_required
    @admin_blp.arguments(EarnRuleQuery, location="query")
    @admin_blp.response(200, EarnRulePage)
    def get(self, args):
        """Earn rules (see "How earn rules combine" in the README)."""
        return earn_rules.listing(args.get("active"), args["limit"], args["cursor"])

    @admin_required
    @admin_blp.arguments(EarnRuleIn)
    @admin_blp.response(201, EarnRuleOut)
    def post(self, body):
        """Create an earn rule (audited)."""
        return earn_rules.create(body)


@admin_blp.route("/earn-rules/<int:rule_id>")
class EarnRuleView(MethodView):
    @admin_required
    @admin_blp.response(200, EarnRuleOut)
    def get(self, rule_id):
        """One earn rule."""
        return earn_rules.with_warnings(earn_rules.get(rule_id))

    @admin_required
    @admin_blp.arguments(EarnRulePatch)
    @admin_blp.response(200, EarnRuleOut)
    def patch(self, body, rule_id):
        """Change an earn rule (audited)."""
        return earn_rules.update(rule_id, body)


@pos_blp.route("/quote")
class QuoteView(MethodView):
    @staff_required
    @pos_blp.arguments(QuoteIn())  # an instance: given a class, webargs builds the schema on every request
    @pos_blp.response(200, QuoteOut)
    def post(self, body):
        """Price a cart for a member: member prices, coupons, points usable and their value, points earned.
        Writes nothing and does not burn the member code."""
        current_store_id()
        return pricing.quote(body)


@pos_blp.route("/purchases")
class PurchasesView(MethodView):
    @staff_required
    @pos_blp.arguments(PurchaseIn())  # an instance: given a class, webargs builds the schema on every request
    @pos_blp.response(201, PurchaseOut)
    def post(self, body):
        """Record a purchase (idempotent by order_no; same order_no with another body: 409).

        Spending points or using coupons needs the member's code (403 member_code_required), unless a manager
        gives override_reason (audited). A refused purchase leaves the member code usable."""
        # The answer is built in PurchaseOut's shape (tests/points/test_purchases.py checks it is the schema's
        # fixed point) and stored as such for replays: sent as it is, not dumped through the schema again.
        identity = current_identity()
        return jsonify(purchases.record(current_store_id(), current_operator_id(), body, identity.role)), 201


@pos_blp.route("/purchases/<string:order_no>")
class PurchaseView(MethodView):
    @staff_required
    @pos_blp.response(200, OrderOut)
    def get(self, order_no):
        """A purchase of this store: its lines, what was refunded and what can still be."""
        return purchases.order_view(current_store_id(), order_no)


@pos_blp.route("/purchases/<string:order_no>/refunds")
class RefundsView(MethodView):
    @staff_required
    @pos_blp.arguments(RefundIn)
    @pos_blp.response(201, RefundOut)
    @pos_blp.doc(description=f"Caller: {', '.join(STORE_ROLES)}.\n\n"
                 "Coupons: a partial refund keeps the coupons used (the discount stays with the items kept, and "
                 "a coupon cannot be split); the refund that makes the purchase fully refunded (one refund or the "
                 "sum of several) restores its coupons that have not expired yet, to be used again. Expired ones "
                 "stay used.")
    def post(self, body, order_no):
        """Refund part or all of a purchase of this store (idempotent by refund_no).

        A partial refund keeps the coupons used; a full refund restores the unexpired ones (the OpenAPI
        description above says it to the till, since the role decorator replaces a docstring's body)."""
        return purchases.refund(current_store_id(), order_no, body)


blueprints = [admin_blp, pos_blp]
