"""Thin routes: the admin's webhook endpoints and their deliveries."""
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import operator_required
from app.pagination import ListArgs
from webhooks import endpoints
from webhooks.schemas import (
    DeliveryOut,
    DeliveryPage,
    DeliveryQuery,
    EndpointIn,
    EndpointOut,
    EndpointPage,
    EndpointPatch,
    EndpointSecretOut,
    SecretRotateIn,
)

blp = Blueprint("webhooks", __name__, url_prefix="/api/v1/admin/webhooks",
                description="Admin: outbound webhooks (signed event deliveries to the brand's systems)")
admin_only = operator_required("admin")


@blp.route("")
class EndpointsView(MethodView):
    @admin_only
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, EndpointPage)
    def get(self, args):
        """Every endpoint with its state (a paused one says since when and why)."""
        return endpoints.listing(args["limit"], args["cursor"])

    @admin_only
    @blp.arguments(EndpointIn)
    @blp.response(201, EndpointSecretOut)
    def post(self, body):
        """Register an endpoint for some event types (audited); its signing secret is in this answer only."""
        return endpoints.create(body["url"], body["events"], body["description"])


@blp.route("/<int:endpoint_id>")
class EndpointView(MethodView):
    @admin_only
    @blp.response(200, EndpointOut)
    def get(self, endpoint_id):
        """One endpoint."""
        return endpoints.get(endpoint_id)

    @admin_only
    @blp.arguments(EndpointPatch)
    @blp.response(200, EndpointOut)
    def patch(self, body, endpoint_id):
        """Change the URL or events, disable (active=false) or enable / resume (active=true) (audited)."""
        return endpoints.update_endpoint(endpoint_id, body)


@blp.route("/<int:endpoint_id>/rotate-secret")
class RotateView(MethodView):
    @admin_only
    @blp.arguments(SecretRotateIn)
    @blp.response(200, EndpointSecretOut)
    def post(self, body, endpoint_id):
        """A new signing secret (shown once); the previous one also signs for grace_hours (audited)."""
        return endpoints.rotate_secret(endpoint_id, body["grace_hours"])


@blp.route("/<int:endpoint_id>/deliveries")
class DeliveriesView(MethodView):
    @admin_only
    @blp.arguments(DeliveryQuery, location="query")
    @blp.response(200, DeliveryPage)
    def get(self, args, endpoint_id):
        """The endpoint's deliveries, newest first: state, tries, the receiver's last answer."""
        return endpoints.deliveries(endpoint_id, args.get("state"), args["limit"], args["cursor"])


@blp.route("/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver")
class RedeliverView(MethodView):
    @admin_only
    @blp.response(200, DeliveryOut)
    def post(self, endpoint_id, delivery_id):
        """Send one delivery again now (audited); 409 delivery_in_flight while it is being sent."""
        return endpoints.redeliver(endpoint_id, delivery_id)


blueprints = [blp]
