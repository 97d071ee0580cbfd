"""Coupon routes: the claim center and wallet (members), verification (staff), templates and issues (marketing)."""
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import (
    admin_required,
    current_member_id,
    current_operator_id,
    current_store_id,
    member_required,
    staff_required,
)
from app.pagination import page_schema
from coupons import checkout, templates, wallet
from coupons.schemas import (
    CenterOut,
    CouponOut,
    MyCouponsArgs,
    RevokeIn,
    TemplateIn,
    TemplateListArgs,
    TemplateOut,
    TemplatePatch,
    VerifyIn,
)

center_blp = Blueprint("coupon_center", __name__, url_prefix="/api/v1/coupons", description="Coupon claim center")


me_blp = Blueprint("me_coupons", __name__, url_prefix="/api/v1/me", description="The shopper's coupons")


pos_blp = Blueprint("pos_coupons", __name__, url_prefix="/api/v1/pos", description="Till: coupon verification")


admin_blp = Blueprint("admin_coupons", __name__, url_prefix="/api/v1/admin", description="Coupon templates")


CouponPage = page_schema(CouponOut, "CouponPage")


TemplatePage = page_schema(TemplateOut, "CouponTemplatePage")


@center_blp.route("/center")
class Center(MethodView):
    @member_required
    @center_blp.response(200, CenterOut)
    def get(self):
        """Templates on offer: which this member may claim now, and why not for the rest."""
        return {"items": wallet.claim_center(current_member_id())}


@center_blp.route("/center/<int:template_id>/claim")
class Claim(MethodView):
    @member_required
    @center_blp.response(201, CouponOut)
    def post(self, template_id: int):
        """Claim one coupon; over stock or the per-member limit: 409."""
        return templates.coupon_out(wallet.claim(current_member_id(), template_id))


@me_blp.route("/coupons")
class MyCoupons(MethodView):
    @member_required
    @me_blp.arguments(MyCouponsArgs, location="query")
    @me_blp.response(200, CouponPage)
    def get(self, args):
        """My coupons, newest first, with terms and expiry; `?state=available|used|expired|revoked`."""
        return wallet.list_member_coupons(current_member_id(), args["state"], args["limit"], args["cursor"])


@pos_blp.route("/coupons/verify")
class Verify(MethodView):
    @staff_required
    @pos_blp.arguments(VerifyIn)
    @pos_blp.response(200, CouponOut)
    def post(self, body):
        """Verify (核销) a gift/exchange coupon once; a second verification: 409 coupon_already_used."""
        coupon = checkout.verify(body["coupon_code"], current_store_id(), current_operator_id())
        return templates.coupon_out(coupon)


@admin_blp.route("/coupon-templates")
class Templates(MethodView):
    @admin_required
    @admin_blp.arguments(TemplateListArgs, location="query")
    @admin_blp.response(200, TemplatePage)
    def get(self, args):
        """Coupon templates, newest first (`?active=` to filter)."""
        return templates.list_templates(args["limit"], args["cursor"], args["active"])

    @admin_required
    @admin_blp.arguments(TemplateIn)
    @admin_blp.response(201, TemplateOut)
    def post(self, body):
        """Create a template (audited)."""
        return templates.template_out(templates.create_template(body))


@admin_blp.route("/coupon-templates/<int:template_id>")
class Template(MethodView):
    @admin_required
    @admin_blp.response(200, TemplateOut)
    def get(self, template_id: int):
        """One template with its issued count."""
        return templates.template_out(templates.get_template(template_id))

    @admin_required
    @admin_blp.arguments(TemplatePatch)
    @admin_blp.response(200, TemplateOut)
    def patch(self, body, template_id: int):
        """Edit a template (audited); once coupons are issued its terms are frozen, `active: false` stops it."""
        return templates.template_out(templates.update_template(template_id, body))


@admin_blp.route("/coupons/<int:coupon_id>/revoke")
class Revoke(MethodView):
    @admin_required
    @admin_blp.arguments(RevokeIn)
    @admin_blp.response(200, CouponOut)
    def post(self, body, coupon_id: int):
        """Take back an unused coupon (audited)."""
        return templates.coupon_out(checkout.revoke(coupon_id, body["reason"]))


blueprints = [center_blp, me_blp, pos_blp, admin_blp]
