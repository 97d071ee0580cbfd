"""Thin routes: the admin's API keys for POS and server-to-server callers."""
from flask.views import MethodView
from flask_smorest import Blueprint

from app.api_keys import service
from app.api_keys.schemas import ApiKeyIn, ApiKeyOut, ApiKeyPage, ApiKeyRotateIn, ApiKeySecretOut
from app.auth import operator_required
from app.pagination import ListArgs

blp = Blueprint("api_keys", __name__, url_prefix="/api/v1/admin/api-keys",
                description="Admin: API keys for store POS systems (signed requests)")
admin_only = operator_required("admin")


@blp.route("")
class ApiKeysView(MethodView):
    @admin_only
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, ApiKeyPage)
    def get(self, args):
        """Every key, newest first (never a secret)."""
        return service.listing(args["limit"], args["cursor"])

    @admin_only
    @blp.arguments(ApiKeyIn)
    @blp.response(201, ApiKeySecretOut)
    def post(self, body):
        """Create a key for one store or every store (audited); the secret is in this answer only."""
        return service.create(body["name"], body["role"], body["store"], body["rate_per_minute"])


@blp.route("/<int:key_id>")
class ApiKeyView(MethodView):
    @admin_only
    @blp.response(200, ApiKeyOut)
    def get(self, key_id):
        """One key."""
        return service.get(key_id)

    @admin_only
    @blp.response(200, ApiKeyOut)
    def delete(self, key_id):
        """Revoke the key at once (audited); its row stays for the audit log."""
        return service.revoke(key_id)


@blp.route("/<int:key_id>/rotate")
class RotateView(MethodView):
    @admin_only
    @blp.arguments(ApiKeyRotateIn)
    @blp.response(200, ApiKeySecretOut)
    def post(self, body, key_id):
        """A new secret (shown once); the previous one works for grace_hours more (audited)."""
        return service.rotate(key_id, body["grace_hours"])


blueprints = [blp]
