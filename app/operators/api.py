"""Thin routes: operator login; the admin's operators and stores; an operator's own password."""
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import current_identity, operator_required
from app.extensions import limiter
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

blp = Blueprint("operator_auth", __name__, url_prefix="/api/v1/auth", description="Staff and marketing login")
admin_blp = Blueprint("operators_admin", __name__, url_prefix="/api/v1/admin",
                      description="Admin: operator accounts and stores")
me_blp = Blueprint("operator_me", __name__, url_prefix="/api/v1/me/operator", description="The signed-in operator")

admin_only = operator_required("admin")
LOGIN_LIMIT = "5/minute"  # failed logins per username a minute, shared by the API and the console
LOGIN_SCOPE = "operator-login"


def login_limit_key(username: object) -> str:
    """One counter per username for the API's login and the console's sign-in alike."""
    return f"operator-login:{username if isinstance(username, str) else '-'}"


def _username_key() -> str:
    body = request.get_json(silent=True)
    return login_limit_key(body.get("username") if isinstance(body, dict) else None)


@blp.route("/operator-login")
class OperatorLogin(MethodView):
    # More than 5 failed logins a minute for one username: 429 (successes do not count).
    decorators = [limiter.shared_limit(LOGIN_LIMIT, scope=LOGIN_SCOPE, key_func=_username_key,
                                       deduct_when=lambda r: r.status_code == 401)]

    @blp.arguments(OperatorLoginIn)
    @blp.response(200, OperatorLoginOut)
    def post(self, body):
        """Staff / marketing login -> operator token."""
        return service.login(body["username"], body["password"])


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


blueprints = [blp, admin_blp, me_blp]
