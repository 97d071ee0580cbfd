"""Thin routes of the points domain: admin policy, products, earn rules, adjustments and a member's ledger;
the till's quote, purchase and refund; the shopper's ledger."""
from flask import jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app.auth import (
    STORE_ROLES,
    admin_required,
    current_identity,
    current_member_id,
    current_store_id,
    member_required,
    staff_required,
)
from app.pagination import ListArgs
from points import adjustments, earn_rules, history, policy, pricing, products, purchases
from points.schemas import (
    AdjustmentHeaders,
    AdjustmentIn,
    AdjustmentOut,
    EarnRuleIn,
    EarnRuleOut,
    EarnRulePage,
    EarnRulePatch,
    EarnRuleQuery,
    LedgerPage,
    PolicyIn,
    PolicyOut,
    ProductIn,
    ProductOut,
    ProductPage,
    ProductPatch,
    ProductQuery,
    PurchaseIn,
    PurchaseOut,
    QuoteIn,
    QuoteOut,
    RefundIn,
    RefundOut,
)

admin_blp = Blueprint("points_admin", __name__, url_prefix="/api/v1/admin",
                      description="Marketing: points policy, products and member prices, earn rules, members")
pos_blp = Blueprint("pos_points", __name__, url_prefix="/api/v1/pos", description="Till: quote, purchase, refund")
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


@admin_blp.route("/products")
class ProductsView(MethodView):
    @admin_required
    @admin_blp.arguments(ProductQuery, location="query")
    @admin_blp.response(200, ProductPage)
    def get(self, args):
        """Products with list and member prices."""
        return products.listing(args.get("active"), args.get("category"), args["limit"], args["cursor"])

    @admin_required
    @admin_blp.arguments(ProductIn)
    @admin_blp.response(201, ProductOut)
    def post(self, body):
        """Create a product (audited); member_prices keys are tier codes or "vip"."""
        return products.create(body)


@admin_blp.route("/products/<string:sku>")
class ProductView(MethodView):
    @admin_required
    @admin_blp.response(200, ProductOut)
    def get(self, sku):
        """One product."""
        return products.get(sku)

    @admin_required
    @admin_blp.arguments(ProductPatch)
    @admin_blp.response(200, ProductOut)
    def patch(self, body, sku):
        """Change a product (audited); member_prices replaces the whole table."""
        return products.update(sku, body)


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
        return earn_rules.get(rule_id)

    @admin_required
    @admin_blp.arguments(EarnRulePatch)
    @admin_blp.response(200, EarnRuleOut)
    def patch(self, body, rule_id):
        """Change an earn rule (audited)."""
        return earn_rules.update(rule_id, body)


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
        """Record a purchase (idempotent by order_no; same order_no with another body: 409)."""
        # The answer is built in PurchaseOut's shape (tests/points/test_purchases.py checks it is the schema's
        # fixed point) and stored as such for replays: sent as it is, not dumped through the schema again.
        return jsonify(purchases.record(current_store_id(), current_identity().id, body)), 201


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


@me_blp.route("/ledger")
class MyLedgerView(MethodView):
    @member_required
    @me_blp.arguments(ListArgs, location="query")
    @me_blp.response(200, LedgerPage)
    def get(self, args):
        """My points history, newest first."""
        return history.member_ledger(current_member_id(), args["limit"], args["cursor"])


blueprints = [admin_blp, pos_blp, me_blp]
