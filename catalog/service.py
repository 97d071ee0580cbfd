"""Products and member prices (会员专享价): a member pays the lowest of list, tier and (active) VIP price."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import config_cache
from app.audit import service as audit
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.pagination import keyset_page
from app.transactions import atomic
from catalog.models import Product
from members.models import Member
from tiers import ladder

VIP_KEY = "vip"
FIELDS = ("sku", "name", "category", "list_price", "member_prices", "active")


def as_dict(product: Product) -> dict:
    return {name: getattr(product, name) for name in FIELDS}


def get(sku: str) -> Product:
    product = db.session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        raise NotFound(f"No product {sku}.", code="product_not_found")
    return product


def listing(active: bool | None, category: str | None, limit: int, cursor: str | None) -> dict:
    stmt = select(Product)
    if active is not None:
        stmt = stmt.where(Product.active.is_(active))
    if category:
        stmt = stmt.where(Product.category == category)
    return keyset_page(stmt, Product.id, limit, cursor, newest_first=False)


def _check_prices(list_price: int, member_prices: dict) -> None:
    """Keys must be real tier codes or "vip", and a member price above the list price is a typo, not a price."""
    for key in ladder.unknown_codes(key for key in member_prices if key != VIP_KEY):
        raise ValidationError(f"member_prices.{key}", "Not a tier code or 'vip'.", code="unknown_tier")
    for key, price in member_prices.items():
        if price > list_price:
            raise ValidationError(f"member_prices.{key}", "A member price cannot exceed the list price.",
                                  code="member_price_above_list")


def create(values: dict) -> Product:
    values = {"member_prices": {}, "active": True, "category": None} | values
    _check_prices(values["list_price"], values["member_prices"])
    if db.session.scalar(select(Product.id).where(Product.sku == values["sku"])) is not None:
        raise Conflict(f"Product {values['sku']} already exists.", code="product_exists")
    product = Product(**values)
    db.session.add(product)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"Product {values['sku']} already exists.", code="product_exists") from None
    audit.record("product.create", "product", product.sku, None, as_dict(product))
    db.session.commit()
    return product


def update(sku: str, changes: dict) -> Product:
    product = get(sku)
    before = as_dict(product)
    merged = before | changes
    _check_prices(merged["list_price"], merged["member_prices"])
    for name, value in changes.items():
        setattr(product, name, value)
    audit.record("product.update", "product", product.sku, before, as_dict(product))
    db.session.commit()
    return product


def set_member_price(sku: str, key: str, price: int | None) -> Product:
    """One member price of a product (a tier code or "vip"; None removes it), the others untouched. The row is
    locked first: two people setting two tiers' prices of one product at once must both land, which a page
    reading the whole table and writing it back (PATCH member_prices) cannot promise."""
    with atomic():
        product = db.session.scalar(select(Product).where(Product.sku == sku).with_for_update()
                                    .execution_options(populate_existing=True))
        if product is None:
            raise NotFound(f"No product {sku}.", code="product_not_found")
        before = as_dict(product)
        prices = dict(product.member_prices or {})
        if price is None:
            prices.pop(key, None)
        else:
            prices[key] = price
        _check_prices(product.list_price, prices)
        product.member_prices = prices
        audit.record("product.update", "product", product.sku, before, as_dict(product))
    return product


catalogue_copy = config_cache.register(
    "products", lambda: {p.sku: config_cache.copy_row(p) for p in db.session.scalars(select(Product))}, (Product,))
"""Every product by SKU, active or not, as committed now: what the till prices a cart from."""


def unit_price(product: Product, member: Member) -> int:
    """The lowest price this member may pay for one unit today."""
    prices = [product.list_price]
    table = product.member_prices or {}
    tier = ladder.tier_of(member) if table else None
    if tier is not None and tier.code in table:
        prices.append(int(table[tier.code]))
    if VIP_KEY in table and member.vip_active():
        prices.append(int(table[VIP_KEY]))
    return min(prices)


def for_skus(skus: list[str]) -> dict[str, Product]:
    return {p.sku: p for p in db.session.scalars(select(Product).where(Product.sku.in_(skus)))}


def known_categories(categories: set[str]) -> set[str]:
    """Which of these categories at least one product is in (coupon scopes name categories)."""
    return set(db.session.scalars(select(Product.category).where(Product.category.in_(categories)).distinct()))


def unknown_skus(skus) -> list[str]:
    """SKUs absent from the catalogue, in order (a coupon scope or earn rule naming them would never match)."""
    skus = list(dict.fromkeys(skus))
    known = set(for_skus(skus)) if skus else set()
    return [sku for sku in skus if sku not in known]


def unknown_categories(categories) -> list[str]:
    """Categories no product is in, in order."""
    categories = list(dict.fromkeys(categories))
    known = known_categories(set(categories)) if categories else set()
    return [category for category in categories if category not in known]


def _like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own % and _ taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_for_till(query: str, limit: int = 20) -> list[Product]:
    """Products on sale whose SKU or name contains `query` (case-insensitive), for a clerk building a
    basket: an exact SKU first (what a barcode scan types), then by SKU. Inactive products are left out,
    since the till cannot sell them."""
    text = query.strip()
    if not text:
        return []
    pattern = _like(text)
    stmt = (select(Product)
            .where(Product.active.is_(True),
                   Product.sku.ilike(pattern, escape="\\") | Product.name.ilike(pattern, escape="\\"))
            .order_by((Product.sku != text), Product.sku)
            .limit(limit))
    return list(db.session.scalars(stmt))
