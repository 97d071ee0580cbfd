"""What the console's forms send, turned into the bodies the JSON API takes (and checked by the API's own
schemas, so a page accepts exactly what the API accepts)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from werkzeug.datastructures import MultiDict

from app.errors import ValidationError


def yuan_to_fen(text: str, field: str = "amount") -> int:
    """'12.3' -> 1230: staff type yuan, the services count fen."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise ValidationError(field, "Not an amount.", code="bad_amount") from None
    fen = value * 100
    if fen != fen.to_integral_value() or fen <= 0:
        raise ValidationError(field, "Not an amount.", code="bad_amount")
    return int(fen)


def optional_int(text: str | None, field: str) -> int | None:
    if text is None or not text.strip():
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise ValidationError(field, "Not a whole number.", code="bad_quantity") from None


def basket_items(form: MultiDict) -> list[dict]:
    """The basket's lines ({sku, qty} in the order added) after the clicked button: `add` puts one more of
    a SKU in (a new line at the end), `remove` takes its line out; a quantity of 0 drops the line."""
    items: list[dict] = []
    for sku, qty in zip(form.getlist("sku"), form.getlist("qty"), strict=False):
        number = optional_int(qty, f"qty.{sku}") or 0
        if number > 0 and sku not in {item["sku"] for item in items}:
            items.append({"sku": sku, "qty": number})
    added = form.get("add", "").strip()
    if added:
        line = next((item for item in items if item["sku"] == added), None)
        if line:
            line["qty"] += 1
        else:
            items.append({"sku": added, "qty": 1})
    removed = form.get("remove")
    return [item for item in items if item["sku"] != removed]


def chosen_coupons(form: MultiDict) -> list[int] | None:
    """The coupons the clerk ticked, or None before they touched any (the quote then suggests the best)."""
    if not form.get("coupons_chosen"):
        return None
    return [int(value) for value in form.getlist("coupon_id") if value.isdigit()]
