"""Task routes: the shopper's list, check-in, completions and referrals; marketing's task definitions."""
from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import admin_required, current_member_id, member_required
from app.extensions import limiter
from app.pagination import ListArgs, page_schema
from tasks import checkin, referrals, service
from tasks.schemas import (
    CalendarArgs,
    CalendarOut,
    CheckInOut,
    CompleteIn,
    CompleteOut,
    MemberTaskList,
    ReferralPage,
    TaskIn,
    TaskOut,
    TaskPatch,
)

blp = Blueprint("tasks", __name__, url_prefix="/api/v1/tasks", description="Daily tasks and check-in")
referrals_blp = Blueprint("referrals", __name__, url_prefix="/api/v1/me", description="Invited friends")
admin_blp = Blueprint("admin_tasks", __name__, url_prefix="/api/v1/admin/tasks", description="Task definitions")


def _task_limit() -> str:
    """Per member (the limiter's key is the token's identity): a scripted client cannot farm tasks."""
    return current_app.config.get("TASKS_RATE_LIMIT", "60/minute")


# One budget shared by every task route, so a client cannot spread a farm script across them.
RATE_LIMITED = [limiter.shared_limit(_task_limit, scope="tasks")]


@blp.route("")
class Tasks(MethodView):
    decorators = RATE_LIMITED

    @member_required
    @blp.response(200, MemberTaskList)
    def get(self):
        """Running tasks with my progress in the current period."""
        return {"items": service.list_for_member(current_member_id())}


@blp.route("/checkin")
class CheckIn(MethodView):
    decorators = RATE_LIMITED

    @member_required
    @blp.response(200, CheckInOut)
    def post(self):
        """Today's check-in (business day); a second one the same day: 409 already_checked_in."""
        return checkin.check_in(current_member_id())


@blp.route("/checkin/calendar")
class CheckInCalendar(MethodView):
    decorators = RATE_LIMITED

    @member_required
    @blp.arguments(CalendarArgs, location="query")
    @blp.response(200, CalendarOut)
    def get(self, args):
        """The days I checked in during a month, my streak and the next bonus."""
        return checkin.calendar_month(current_member_id(), args["month"])


@blp.route("/<string:task_code>/complete")
class CompleteTask(MethodView):
    decorators = RATE_LIMITED

    @member_required
    @blp.arguments(CompleteIn)
    @blp.response(200, CompleteOut)
    def post(self, body, task_code):
        """Report a share / post (发图文) / custom task by its ref; the same ref never rewards twice."""
        return service.complete(current_member_id(), task_code, body["ref"])


@referrals_blp.route("/referrals")
class MyReferrals(MethodView):
    @member_required
    @referrals_blp.arguments(ListArgs, location="query")
    @referrals_blp.response(200, ReferralPage)
    def get(self, args):
        """People I invited and whether their first purchase rewarded me."""
        return referrals.list_referrals(current_member_id(), args["limit"], args["cursor"])


@admin_blp.route("")
class AdminTasks(MethodView):
    @admin_required
    @admin_blp.arguments(ListArgs, location="query")
    @admin_blp.response(200, page_schema(TaskOut, "TaskPage"))
    def get(self, args):
        """Every task definition, newest first."""
        return service.list_tasks(args["limit"], args["cursor"])

    @admin_required
    @admin_blp.arguments(TaskIn)
    @admin_blp.response(201, TaskOut)
    def post(self, body):
        """Define a task (audited)."""
        return service.create_task(body)


@admin_blp.route("/<int:task_id>")
class AdminTask(MethodView):
    @admin_required
    @admin_blp.response(200, TaskOut)
    def get(self, task_id):
        """One task definition."""
        return service.get_task(task_id)

    @admin_required
    @admin_blp.arguments(TaskPatch)
    @admin_blp.response(200, TaskOut)
    def patch(self, body, task_id):
        """Change a task (audited); code and kind stay."""
        return service.update_task(task_id, body)


blueprints = [blp, referrals_blp, admin_blp]
