"""Paid VIP: plans on sale, orders, WeChat Pay's notify, and marketing's plan CRUD."""
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from app import wechat
from app.auth import admin_required, current_member_id, member_required
from vip import service
from vip.schemas import (
    VipOrderCreated,
    VipOrderIn,
    VipOrderOut,
    VipPlanIn,
    VipPlanList,
    VipPlanOut,
    VipPlanPatch,
)

blp = Blueprint("vip", __name__, url_prefix="/api/v1/vip", description="Paid VIP (付费会员)")
pay_blp = Blueprint("pay", __name__, url_prefix="/api/v1/pay", description="WeChat Pay callbacks")
admin_blp = Blueprint("admin_vip", __name__, url_prefix="/api/v1/admin", description="Marketing: VIP plans")


@blp.route("/plans")
class Plans(MethodView):
    @blp.response(200, VipPlanList)
    def get(self):
        """VIP plans on sale."""
        return {"items": service.list_plans(active_only=True)}


@blp.route("/orders")
class Orders(MethodView):
    @member_required
    @blp.arguments(VipOrderIn)
    @blp.response(201, VipOrderCreated)
    def post(self, body):
        """Order a plan -> the parameters for wx.requestPayment. The VIP starts when WeChat Pay notifies."""
        return service.create_order(current_member_id(), body["plan_id"], request.remote_addr)


@blp.route("/orders/<order_no>")
class Order(MethodView):
    @member_required
    @blp.response(200, VipOrderOut)
    def get(self, order_no: str):
        """One of my orders (poll it after paying)."""
        return service.get_order(current_member_id(), order_no)


@pay_blp.route("/notify")
class Notify(MethodView):
    @pay_blp.doc(**wechat.NOTIFY_DOC)
    def post(self):
        """WeChat Pay's signed payment result (no token: the signature is the authentication)."""
        return wechat.answer_notify(service.handle_notify)


@admin_blp.route("/vip-plans")
class AdminPlans(MethodView):
    @admin_required
    @admin_blp.response(200, VipPlanList)
    def get(self):
        """Every plan, on sale or not."""
        return {"items": service.list_plans(active_only=False)}

    @admin_required
    @admin_blp.arguments(VipPlanIn)
    @admin_blp.response(201, VipPlanOut)
    def post(self, body):
        """Create a plan (audited)."""
        return service.save_plan(None, body)


@admin_blp.route("/vip-plans/<int:plan_id>")
class AdminPlan(MethodView):
    @admin_required
    @admin_blp.response(200, VipPlanOut)
    def get(self, plan_id: int):
        """One plan."""
        return service.get_plan(plan_id)

    @admin_required
    @admin_blp.arguments(VipPlanPatch)
    @admin_blp.response(200, VipPlanOut)
    def patch(self, body, plan_id: int):
        """Edit a plan; orders already created keep their price and duration."""
        return service.save_plan(plan_id, body)


blueprints = [blp, pay_blp, admin_blp]
