"""Thin routes of the catalogue: products and their member prices (marketing)."""
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import admin_required, staff_required
from catalog import service as products
from catalog.schemas import (
    MemberPriceIn,
    ProductIn,
    ProductOut,
    ProductPage,
    ProductPatch,
    ProductQuery,
    TillProductList,
    TillProductQuery,
)

admin_blp = Blueprint("catalog_admin", __name__, url_prefix="/api/v1/admin",
                      description="Marketing: products and member prices")


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


@admin_blp.route("/products/<string:sku>/member-prices/<string:key>")
class MemberPriceView(MethodView):
    @admin_required
    @admin_blp.arguments(MemberPriceIn)
    @admin_blp.response(200, ProductOut)
    def put(self, body, sku, key):
        """Set one member price (`key`: a tier code or "vip"), the product's others untouched (audited)."""
        return products.set_member_price(sku, key, body["price"])

    @admin_required
    @admin_blp.response(200, ProductOut)
    def delete(self, sku, key):
        """Remove one member price (audited); removing one the product does not have changes nothing."""
        return products.set_member_price(sku, key, None)


pos_blp = Blueprint("pos_products", __name__, url_prefix="/api/v1/pos", description="Till: find products")


@pos_blp.route("/products")
class TillProducts(MethodView):
    @staff_required
    @pos_blp.arguments(TillProductQuery, location="query")
    @pos_blp.response(200, TillProductList)
    def get(self, args):
        """Products on sale by part of their SKU or name, for building a basket."""
        return {"items": products.search_for_till(args["q"], args["limit"])}


blueprints = [admin_blp, pos_blp]
