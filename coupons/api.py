"""Coupon routes: the claim center and wallet (members), verification (staff), templates and issues (marketing)."""
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import (
    ADMIN_ROLES,
    admin_required,
    current_identity,
    current_member_id,
    current_store_id,
    member_required,
    staff_required,
)
from app.pagination import page_schema
from coupons import service
from coupons.schemas import (
    CenterOut,
    CouponOut,
    IssueIn,
    IssueOut,
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
        return {"items": service.claim_center(current_member_id())}


@center_blp.route("/center/<int:template_id>/claim")
class Claim(MethodView):
    @member_required
    @center_blp.response(201, CouponOut)
    def post(self, template_id: int):
        """Claim one coupon; over stock or the per-member limit: 409."""
        return service.coupon_out(service.claim(current_member_id(), template_id))


@me_blp.route("/coupons")
class MyCoupons(MethodView):
    @member_required
    @me_blp.arguments(MyCouponsArgs, location="query")
    @me_blp.response(200, CouponPage)
    def get(self, args):
        """My coupons, newest first, with terms and expiry; `?state=available|used|expired|revoked`."""
        return service.list_member_coupons(current_member_id(), args["state"], args["limit"], args["cursor"])


@pos_blp.route("/coupons/verify")
class Verify(MethodView):
    @staff_required
    @pos_blp.arguments(VerifyIn)
    @pos_blp.response(200, CouponOut)
    def post(self, body):
        """Verify (核销) a gift/exchange coupon once; a second verification: 409 coupon_already_used."""
        coupon = service.verify(body["coupon_code"], current_store_id(), current_identity().id)
        return service.coupon_out(coupon)


@admin_blp.route("/coupon-templates")
class Templates(MethodView):
    @admin_required
    @admin_blp.arguments(TemplateListArgs, location="query")
    @admin_blp.response(200, TemplatePage)
    def get(self, args):
        """Coupon templates, newest first (`?active=` to filter)."""
        return service.list_templates(args["limit"], args["cursor"], args["active"])

    @admin_required
    @admin_blp.arguments(TemplateIn)
    @admin_blp.response(201, TemplateOut)
    def post(self, body):
        """Create a template (audited)."""
        return service.template_out(service.create_template(body))


@admin_blp.route("/coupon-templates/<int:template_id>")
class Template(MethodView):
    @admin_required
    @admin_blp.response(200, TemplateOut)
    def get(self, template_id: int):
        """One template with its issued count."""
        return service.template_out(service.get_template(template_id))

    @admin_required
    @admin_blp.arguments(TemplatePatch)
    @admin_blp.response(200, TemplateOut)
    def patch(self, body, template_id: int):
        """Edit a template (audited); once coupons are issued its terms are frozen, `active: false` stops it."""
        return service.template_out(service.update_template(template_id, body))


@admin_blp.route("/coupon-templates/<int:template_id>/issue")
class Issue(MethodView):
    @admin_required
    @admin_blp.arguments(IssueIn)
    @admin_blp.response(202, IssueOut)
    @admin_blp.doc(description=f"Caller: {', '.join(ADMIN_ROLES)}.\n\n"
                   "Re-posting the same `key` returns the same issue and queues it again if it is not done (after "
                   "a 503 `coupon_issue_not_queued`, or once it has failed); a job already queued or running is "
                   "not doubled. Unknown tier codes or tags: 422 naming the field.")
    def post(self, body, template_id: int):
        """Issue to a target group in the background (RQ `grants` queue); poll the issue for progress."""
        return service.request_issue(template_id, body["audience"], body.get("key"), current_identity().id)


@admin_blp.route("/coupon-templates/<int:template_id>/issues/<int:issue_id>")
class IssueProgress(MethodView):
    @admin_required
    @admin_blp.response(200, IssueOut)
    def get(self, template_id: int, issue_id: int):
        """Progress of a targeted issue: issued, skipped, failed."""
        return service.get_issue(template_id, issue_id)


@admin_blp.route("/coupons/<int:coupon_id>/revoke")
class Revoke(MethodView):
    @admin_required
    @admin_blp.arguments(RevokeIn)
    @admin_blp.response(200, CouponOut)
    def post(self, body, coupon_id: int):
        """Take back an unused coupon (audited)."""
        return service.coupon_out(service.revoke(coupon_id, body["reason"]))


blueprints = [center_blp, me_blp, pos_blp, admin_blp]
