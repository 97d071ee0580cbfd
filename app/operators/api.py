from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.extensions import limiter
from app.operators import service
from app.operators.schemas import OperatorLoginIn, OperatorLoginOut, StoreList

blp = Blueprint("operator_auth", __name__, url_prefix="/api/v1/auth", description="Staff and marketing login")
stores_blp = Blueprint("stores", __name__, url_prefix="/api/v1/stores", description="The brand's stores")


def _username_key() -> str:
    body = request.get_json(silent=True)
    name = body.get("username") if isinstance(body, dict) else None
    return f"operator-login:{name if isinstance(name, str) else '-'}"


@blp.route("/operator-login")
class OperatorLogin(MethodView):
    # More than 5 failed logins a minute for one username: 429 (successes do not count).
    decorators = [limiter.limit("5/minute", key_func=_username_key, deduct_when=lambda r: r.status_code == 401)]

    @blp.arguments(OperatorLoginIn)
    @blp.response(200, OperatorLoginOut)
    def post(self, body):
        """Staff / marketing login -> operator token."""
        return service.login(body["username"], body["password"])


@stores_blp.route("")
class Stores(MethodView):
    @stores_blp.response(200, StoreList)
    def get(self):
        """The open stores (code and name): where a shopper may choose to pick a points-mall gift up."""
        return {"items": service.open_stores()}


blueprints = [blp, stores_blp]
