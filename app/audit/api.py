from flask.views import MethodView
from flask_smorest import Blueprint

from app.audit import service
from app.audit.schemas import AuditPage, AuditQuery
from app.auth import admin_required

blp = Blueprint("audit", __name__, url_prefix="/api/v1/admin/audit-log", description="Audit log of admin writes")


@blp.route("")
class AuditLogView(MethodView):
    @admin_required
    @blp.arguments(AuditQuery, location="query")
    @blp.response(200, AuditPage)
    def get(self, args):
        """Who changed what, when, before and after (newest first)."""
        limit, cursor = args.pop("limit"), args.pop("cursor")
        return service.search(args, limit, cursor)


blueprints = [blp]
