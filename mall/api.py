"""Points-mall routes: the shopper's catalogue and redemptions, the till's pickup, marketing's catalogue."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import (
    admin_required,
    current_identity,
    current_member_id,
    current_operator_id,
    current_store_id,
    member_required,
    staff_required,
)
from app.pagination import ListArgs, page_schema
from mall import service
from mall.schemas import (
    CatalogItemIn,
    CatalogItemOut,
    CatalogItemPatch,
    IdempotencyHeader,
    PickupArgs,
    RedeemIn,
    RedemptionOut,
    RedemptionSearchArgs,
    ShopItemList,
    StockIn,
)

shop_blp = Blueprint("mall", __name__, url_prefix="/api/v1", description="Points mall (积分商城)")
pos_blp = Blueprint("pos_redemptions", __name__, url_prefix="/api/v1/pos/redemptions", description="Till: gift pickup")
admin_blp = Blueprint("admin_catalog", __name__, url_prefix="/api/v1/admin", description="Points-mall catalogue")


@shop_blp.route("/catalog")
class Catalog(MethodView):
    @member_required
    @shop_blp.response(200, ShopItemList)
    def get(self):
        """Items on sale now; each says whether I may redeem it and, if not, why."""
        return {"items": service.catalog_for_member(current_member_id())}


@shop_blp.route("/redemptions")
class Redemptions(MethodView):
    @member_required
    @shop_blp.arguments(IdempotencyHeader, location="headers")
    @shop_blp.arguments(RedeemIn)
    @shop_blp.response(201, RedemptionOut)
    def post(self, headers, body):
        """Redeem points for an item; 409 insufficient_points / out_of_stock / over_limit changes nothing.
        A pickup item names the store where I collect it (store_code, from GET /api/v1/stores). The same
        Idempotency-Key with the same body returns the first redemption."""
        return service.redeem(current_member_id(), body["item_id"], body["quantity"], headers["idempotency_key"],
                              body.get("store_code"))


@shop_blp.route("/me/redemptions")
class MyRedemptions(MethodView):
    @member_required
    @shop_blp.arguments(ListArgs, location="query")
    @shop_blp.response(200, page_schema(RedemptionOut, "RedemptionPage"))
    def get(self, args):
        """My redemptions, newest first."""
        return service.my_redemptions(current_member_id(), args["limit"], args["cursor"])


@shop_blp.route("/me/redemptions/<int:redemption_id>/cancel")
class MyRedemptionCancel(MethodView):
    @member_required
    @shop_blp.response(200, RedemptionOut)
    def post(self, redemption_id):
        """Cancel my unfulfilled pickup: points (with their original expiry) and stock come back."""
        return service.cancel(redemption_id, member_id=current_member_id())


@pos_blp.route("")
class PickupQueue(MethodView):
    @staff_required
    @pos_blp.arguments(PickupArgs, location="query")
    @pos_blp.response(200, page_schema(RedemptionOut, "PickupPage"))
    def get(self, args):
        """A scanned member's gifts waiting for pickup, or (no member_id) every gift waiting at my store."""
        if args["member_id"] is None:
            return service.store_pickups(current_store_id(), args["limit"], args["cursor"])
        filters = {"member_id": args["member_id"], "state": "awaiting_pickup"}
        return service.search_redemptions(filters, args["limit"], args["cursor"])


@pos_blp.route("/<int:redemption_id>/fulfil")
class Fulfil(MethodView):
    @staff_required
    @pos_blp.response(200, RedemptionOut)
    def post(self, redemption_id):
        """Hand a redeemed gift over (once), in the store the member chose (else 403 wrong_pickup_store);
        my store is recorded."""
        return service.fulfil(redemption_id, current_store_id(), current_operator_id())


@admin_blp.route("/catalog")
class AdminCatalog(MethodView):
    @admin_required
    @admin_blp.arguments(ListArgs, location="query")
    @admin_blp.response(200, page_schema(CatalogItemOut, "CatalogItemPage"))
    def get(self, args):
        """Every catalogue item, newest first."""
        return service.list_items(args["limit"], args["cursor"])

    @admin_required
    @admin_blp.arguments(CatalogItemIn)
    @admin_blp.response(201, CatalogItemOut)
    def post(self, body):
        """Add a catalogue item (audited)."""
        return service.create_item(body)


@admin_blp.route("/catalog/<int:item_id>")
class AdminCatalogItem(MethodView):
    @admin_required
    @admin_blp.response(200, CatalogItemOut)
    def get(self, item_id):
        """One catalogue item."""
        return service.get_item(item_id)

    @admin_required
    @admin_blp.arguments(CatalogItemPatch)
    @admin_blp.response(200, CatalogItemOut)
    def patch(self, body, item_id):
        """Change an item (audited); stock set here is the new stock."""
        return service.update_item(item_id, body)


@admin_blp.route("/catalog/<int:item_id>/stock")
class AdminCatalogStock(MethodView):
    @admin_required
    @admin_blp.arguments(StockIn)
    @admin_blp.response(200, CatalogItemOut)
    def post(self, body, item_id):
        """Restock or write off by a count (audited), relative to the stock at that moment, so redemptions
        taken meanwhile are kept; the stock never goes below zero (409 `out_of_stock`)."""
        return service.adjust_stock(item_id, body["delta"])


@admin_blp.route("/redemptions")
class AdminRedemptions(MethodView):
    @admin_required
    @admin_blp.arguments(RedemptionSearchArgs, location="query")
    @admin_blp.response(200, page_schema(RedemptionOut, "AdminRedemptionPage"))
    def get(self, args):
        """Redemptions by member, item or state, newest first."""
        return service.search_redemptions(args, args["limit"], args["cursor"])


@admin_blp.route("/redemptions/<int:redemption_id>/cancel")
class AdminRedemptionCancel(MethodView):
    @admin_required
    @admin_blp.response(200, RedemptionOut)
    def post(self, redemption_id):
        """Cancel a member's unfulfilled pickup (audited): points and stock come back."""
        return service.cancel(redemption_id, operator_id=current_identity().id)


blueprints = [shop_blp, pos_blp, admin_blp]
