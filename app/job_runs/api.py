from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app.auth import admin_required
from app.job_runs import service
from app.job_runs.schemas import JobRunPage, JobRunQuery

blp = Blueprint("jobs", __name__, url_prefix="/api/v1/admin/jobs", description="Background job runs")


@blp.route("")
class JobRunsView(MethodView):
    @admin_required
    @blp.arguments(JobRunQuery, location="query", unknown=RAISE)
    @blp.response(200, JobRunPage)
    def get(self, args):
        """Recent job runs (newest first) with their counts and errors; one row per try."""
        limit, cursor = args.pop("limit"), args.pop("cursor")
        return service.search(args, limit, cursor)


blueprints = [blp]
