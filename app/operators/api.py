"""Thin routes: operator login; the admin's operators and stores; an operator's own password; the open stores."""
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import current_identity, operator_required
from app.operators import service
from app.operators.schemas import (
    OperatorIn,
    OperatorLoginIn,
    OperatorLoginOut,
    OperatorOut,
    OperatorPage,
    OperatorPatch,
    OperatorQuery,
    PasswordChangeIn,
    StoreIn,
    StoreList,
    StoreOut,
)
from app.operators.throttle import sign_in_throttled

blp = Blueprint("operator_auth", __name__, url_prefix="/api/v1/auth", description="Staff and marketing login")
stores_blp = Blueprint("stores", __name__, url_prefix="/api/v1/stores", description="The brand's stores")
admin_blp = Blueprint("operators_admin", __name__, url_prefix="/api/v1/admin",
                      description="Admin: operator accounts and stores")
me_blp = Blueprint("operator_me", __name__, url_prefix="/api/v1/me/operator", description="The signed-in operator")

admin_only = operator_required("admin")


def _json_username() -> object:
    body = request.get_json(silent=True)
    return body.get("username") if isinstance(body, dict) else None


@blp.route("/operator-login")
class OperatorLogin(MethodView):
    decorators = [sign_in_throttled(_json_username)]

    @blp.arguments(OperatorLoginIn)
    @blp.response(200, OperatorLoginOut)
    def post(self, body):
        """Staff / marketing login -> operator token. Throttled per client address: more than 5 failures a minute
        for one username, or 20 for any usernames, answer 429 for that client (others are not affected)."""
        return service.login(body["username"], body["password"])


@stores_blp.route("")
class Stores(MethodView):
    @stores_blp.response(200, StoreList)
    def get(self):
        """The open stores (code and name): where a shopper may choose to pick a points-mall gift up."""
        return {"items": service.open_stores()}


@admin_blp.route("/operators")
class OperatorsView(MethodView):
    @admin_only
    @admin_blp.arguments(OperatorQuery, location="query")
    @admin_blp.response(200, OperatorPage)
    def get(self, args):
        """Operator accounts, newest first."""
        limit, cursor = args.pop("limit"), args.pop("cursor")
        return service.list_operators(args, limit, cursor)

    @admin_only
    @admin_blp.arguments(OperatorIn)
    @admin_blp.response(201, OperatorOut)
    def post(self, body):
        """Create an operator (audited); staff and managers name their store's code."""
        return service.create_operator(body["username"], body["password"], body["role"], body["store"])


@admin_blp.route("/operators/<int:operator_id>")
class OperatorView(MethodView):
    @admin_only
    @admin_blp.arguments(OperatorPatch)
    @admin_blp.response(200, OperatorOut)
    def patch(self, body, operator_id):
        """Disable or enable, change role or store, reset the password (audited)."""
        return service.update_operator(operator_id, body, actor_id=current_identity().id)


@admin_blp.route("/stores")
class StoresView(MethodView):
    @admin_only
    @admin_blp.response(200, StoreList)
    def get(self):
        """Every store."""
        return {"items": service.list_stores()}

    @admin_only
    @admin_blp.arguments(StoreIn)
    @admin_blp.response(201, StoreOut)
    def post(self, body):
        """Create a store (audited)."""
        return service.create_store(body["code"], body["name"])


@me_blp.route("/password")
class MyPassword(MethodView):
    @operator_required()
    @me_blp.arguments(PasswordChangeIn)
    @me_blp.response(204)
    def post(self, body):
        """Change my own password (the current one is required)."""
        service.change_own_password(current_identity().id, body["current_password"], body["new_password"])


blueprints = [blp, stores_blp, admin_blp, me_blp]
