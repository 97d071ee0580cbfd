"""The console's first pages: sign-in, password, the till (store staff) and admin (operators, stores). Thin
views over the same services as the JSON API; refusals come back as the services' ApiError codes and are
shown in Chinese through console.messages; no rule lives here."""
from __future__ import annotations

from flask import g, redirect, render_template, request, url_for
from marshmallow import ValidationError as SchemaError

from app.auth import STORE_ROLES
from app.errors import ApiError
from app.operators import service as operators
from app.operators.throttle import sign_in_throttled
from card import service as card
from catalog import service as catalog
from console import forms, session
from console.blueprint import HOME_BY_ROLE, blp, hx, schema_error
from coupons import checkout
from mall import service as mall
from members import member_code
from till import pricing, purchases
from till.schemas import PurchaseIn, QuoteIn, RefundIn

# --- sign-in ------------------------------------------------------------------------------------------

@blp.get("/")
@session.requires()
def home():
    return redirect(url_for(HOME_BY_ROLE[g.operator.role]))


def _form_username() -> object:
    return request.form.get("username")


@blp.route("/login", methods=["GET", "POST"])
@sign_in_throttled(_form_username)
def login():
    """Sign in with the API's own checks and the API's throttles (counted together with its logins)."""
    next_path = request.values.get("next") or ""
    if request.method == "GET":
        return render_template("console/login.html", next=next_path,
                               error_code="session_expired" if g.get("session_expired") else None)
    try:
        operator = operators.authenticate(request.form.get("username", ""), request.form.get("password", ""))
    except ApiError as error:
        return render_template("console/login.html", error_code=error.code, next=next_path), 401
    session.sign_in(operator)
    if next_path.startswith("/console/") and not next_path.startswith("//"):
        return redirect(next_path)
    return redirect(url_for(HOME_BY_ROLE[operator.role]))


@blp.post("/logout")
def logout():
    session.sign_out()
    return redirect(url_for("console.login"))


@blp.route("/password", methods=["GET", "POST"])
@session.requires()
def password():
    """Every operator changes their own password here (the current one is asked for)."""
    if request.method == "GET":
        return render_template("console/password.html")
    try:
        operators.change_own_password(g.operator.id, request.form.get("current_password", ""),
                                      request.form.get("new_password", ""))
    except ApiError as error:
        return render_template("console/password.html", error_code=error.code), 422
    return render_template("console/password.html", done=True)


# --- the till -------------------------------------------------------------------------------------------

def _store_id() -> int:
    return g.operator.store_id


def _member_context(code: str) -> dict:
    """The member card and the gifts waiting for pickup, for a scanned code (checked, not burnt)."""
    member = member_code.resolve(code)
    pickups = mall.search_redemptions({"member_id": member.id, "state": "awaiting_pickup"}, 50, None)["items"]
    return {"member": card.scan_summary(member.id), "member_code": code, "pickups": pickups}


def _basket_context(form) -> dict:
    """The basket's lines and, with a member, the live quote (suggested coupons until the clerk picks)."""
    context: dict = {"items": [], "quote": None, "coupons_chosen": bool(form.get("coupons_chosen")),
                     "points_to_use": form.get("points_to_use", ""), "member_code": form.get("member_code", "")}
    try:
        items = forms.basket_items(form)
        context["items"] = items
        context["products"] = {sku: product for sku, product in catalog.for_skus([i["sku"] for i in items]).items()}
        if not items or not context["member_code"]:
            return context
        body = QuoteIn().load({"member_code": context["member_code"], "items": items,
                               "coupon_ids": forms.chosen_coupons(form),
                               "points_to_use": forms.optional_int(form.get("points_to_use"), "points_to_use")})
        context["quote"] = pricing.quote(body)
        context["usable_coupons"] = card.scan_summary(context["quote"]["member_id"])["usable_coupons"]
    except SchemaError as error:
        context["error"] = schema_error(error)
    except ApiError as error:
        context["error"] = error
    return context


def _till_page(status: int = 200, **context):
    context.setdefault("order_no", purchases.new_order_no())
    context.setdefault("store", g.operator.store)
    return render_template("console/till.html", **context), status


@blp.get("/till")
@session.requires(*STORE_ROLES)
def till():
    """The till: scan a member, build a basket, quote, confirm. The order number is fixed here, so a second
    submit of this basket is a replay the purchase service answers with the first purchase."""
    return _till_page()


@blp.get("/till/pickups")
@session.requires(*STORE_ROLES)
def till_pickups():
    """The gifts waiting at this store, each with its hand-over button."""
    return render_template("console/_pickups.html", pickups=mall.store_pickups(_store_id(), 100, None)["items"])


@blp.post("/till/member")
@session.requires(*STORE_ROLES)
def till_member():
    code = request.form.get("member_code", "").strip()
    try:
        context = _member_context(code)
    except ApiError as error:
        context = {"member_error": error}
    if hx():  # the basket re-prices for this member (or drops the prices of a refused code)
        return render_template("console/_member.html", oob=True, **context), 200, {"HX-Trigger": "member-changed"}
    return _till_page(**context)


@blp.get("/till/products")
@session.requires(*STORE_ROLES)
def till_products():
    query = request.args.get("q", "")
    return render_template("console/_products.html", products=catalog.search_for_till(query)[:20] if query else [],
                           q=query)


@blp.post("/till/basket")
@session.requires(*STORE_ROLES)
def till_basket():
    context = _basket_context(request.form)
    if hx():
        return render_template("console/_basket.html", **context)
    return _till_page(order_no=request.form.get("order_no"), **context)


@blp.post("/till/checkout")
@session.requires(*STORE_ROLES)
def till_checkout():
    """Record the purchase the clerk confirmed: the coupons ticked, the points entered, and the payable the
    quote showed (the service refuses a payable that has changed since)."""
    form = request.form
    order_no = (form.get("pos_order_no") or "").strip() or form.get("order_no", "")
    try:
        body = PurchaseIn().load({
            "order_no": order_no, "member_code": form.get("member_code", ""), "items": forms.basket_items(form),
            "coupon_ids": [int(value) for value in form.getlist("coupon_id") if value.isdigit()],
            "points_to_use": forms.optional_int(form.get("points_to_use"), "points_to_use"),
            "paid": forms.optional_int(form.get("paid"), "paid")})
        purchases.record(_store_id(), g.operator.id, body)
    except (ApiError, SchemaError) as error:
        error = schema_error(error) if isinstance(error, SchemaError) else error
        context = _basket_context(form)
        context["error"] = error
        try:
            context.update(_member_context(form.get("member_code", "")))
        except ApiError as member_error:
            context["member_error"] = member_error
        return _till_page(422, order_no=form.get("order_no"), **context)
    return redirect(url_for("console.till_order", order_no=order_no, receipt=1))


@blp.get("/till/orders")
@session.requires(*STORE_ROLES)
def till_find_order():
    order_no = request.args.get("order_no", "").strip()
    if not order_no:
        return redirect(url_for("console.till"))
    return redirect(url_for("console.till_order", order_no=order_no))


def _order_page(order_no: str, status: int = 200, **context):
    try:
        order = purchases.order_view(_store_id(), order_no)
    except ApiError as error:
        return _till_page(404, lookup_error=error)
    return render_template("console/order.html", order=order, refund_no=purchases.new_refund_no(),
                           receipt=request.args.get("receipt") == "1", **context), status


@blp.get("/till/orders/<string:order_no>")
@session.requires(*STORE_ROLES)
def till_order(order_no: str):
    """The receipt after a purchase, and the refund forms (by amount, by lines, in full)."""
    return _order_page(order_no)


@blp.post("/till/orders/<string:order_no>/refund")
@session.requires(*STORE_ROLES)
def till_refund(order_no: str):
    form = request.form
    body: dict = {"refund_no": form.get("refund_no", "")}
    try:
        mode = form.get("mode")
        if mode == "amount":
            body["amount"] = forms.yuan_to_fen(form.get("amount", ""))
        elif mode == "lines":
            body["lines"] = [item for item in forms.basket_items(form)]
        else:
            body["full"] = True
        refund = purchases.refund(_store_id(), order_no, RefundIn().load(body))
    except (ApiError, SchemaError) as error:
        error = schema_error(error) if isinstance(error, SchemaError) else error
        return _order_page(order_no, 422, error=error)
    return _order_page(order_no, refund=refund)


@blp.post("/till/verify")
@session.requires(*STORE_ROLES)
def till_verify():
    """核销 a gift or exchange coupon by its code, in this store."""
    try:
        coupon = checkout.verify(request.form.get("coupon_code", ""), _store_id(), g.operator.id)
        context = {"verified": coupon}
    except ApiError as error:
        context = {"verify_error": error}
    if hx():
        return render_template("console/_verify.html", **context)
    return _till_page(**context)


@blp.post("/till/pickups/<int:redemption_id>/fulfil")
@session.requires(*STORE_ROLES)
def till_fulfil(redemption_id: int):
    """Hand a points-mall gift over; this store is recorded."""
    try:
        redemption = mall.fulfil(redemption_id, _store_id(), g.operator.id)
        context = {"fulfilled": redemption}
    except ApiError as error:
        context = {"fulfil_error": error}
    return render_template("console/_fulfil.html", **context)


# --- admin: operators and stores -----------------------------------------------------------------------

def _admin_page(template: str, status: int = 200, **context):
    context.setdefault("stores", operators.list_stores())
    context.setdefault("operators", operators.list_operators({}, 100, None)["items"])
    return render_template(template, **context), status


@blp.route("/admin/operators", methods=["GET", "POST"])
@session.requires("admin")
def admin_operators():
    if request.method == "GET":
        return _admin_page("console/operators.html")
    form = request.form
    try:
        created = operators.create_operator(form.get("username", "").strip(), form.get("password", ""),
                                            form.get("role", ""), form.get("store") or None)
    except ApiError as error:
        return _admin_page("console/operators.html", 422, error=error)
    return _admin_page("console/operators.html", notice=f"已创建 {created.username}")


@blp.post("/admin/operators/<int:operator_id>")
@session.requires("admin")
def admin_operator_update(operator_id: int):
    """One change per form: disable, enable, reset the password, or assign role and store."""
    form = request.form
    action = form.get("action")
    changes = {"disable": {"active": False}, "enable": {"active": True},
               "reset": {"password": form.get("password", "")},
               "assign": {"role": form.get("role", ""), "store": form.get("store") or None}}.get(action, {})
    try:
        changed = operators.update_operator(operator_id, changes, actor_id=g.operator.id)
    except ApiError as error:
        return _admin_page("console/operators.html", 422, error=error)
    return _admin_page("console/operators.html", notice=f"已更新 {changed.username}")


@blp.route("/admin/stores", methods=["GET", "POST"])
@session.requires("admin")
def admin_stores():
    if request.method == "GET":
        return _admin_page("console/stores.html")
    try:
        created = operators.create_store(request.form.get("code", "").strip(), request.form.get("name", "").strip())
    except ApiError as error:
        return _admin_page("console/stores.html", 422, error=error)
    return _admin_page("console/stores.html", notice=f"已创建门店 {created.code}")


