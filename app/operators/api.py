from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.extensions import client_address, limiter
from app.operators import service
from app.operators.schemas import OperatorLoginIn, OperatorLoginOut, StoreList

blp = Blueprint("operator_auth", __name__, url_prefix="/api/v1/auth", description="Staff and marketing login")
stores_blp = Blueprint("stores", __name__, url_prefix="/api/v1/stores", description="The brand's stores")


def _account_key() -> str:
    """The client and the username it tries: guessing one account from one client."""
    body = request.get_json(silent=True)
    name = body.get("username") if isinstance(body, dict) else None
    return f"operator-login:{client_address()}:{name if isinstance(name, str) else '-'}"


def _client_key() -> str:
    """The client alone: one client going through many usernames."""
    return f"operator-login:{client_address()}"


def _failed(response) -> bool:
    return response.status_code == 401


@blp.route("/operator-login")
class OperatorLogin(MethodView):
    # Failed logins only (successes do not count), per client and username and per client: 429 past either.
    decorators = [
        limiter.limit(lambda: current_app.config["OPERATOR_LOGIN_FAILURES_PER_ACCOUNT"], key_func=_account_key,
                      deduct_when=_failed),
        limiter.limit(lambda: current_app.config["OPERATOR_LOGIN_FAILURES_PER_CLIENT"], key_func=_client_key,
                      deduct_when=_failed),
    ]

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


blueprints = [blp, stores_blp]
