"""Program pages: earn rules (with the till's warning when an exclusive rule ranked above shadows one) and the
shoppers' tasks (check-in streak bonuses, share, post, invite). Thin views over till.earn_rules and
tasks.service, the admin API's services; whether a rule is shadowed is decided in till.earn_rules."""
from __future__ import annotations

from flask import redirect, request, url_for
from werkzeug.datastructures import MultiDict

from console import program_forms as forms
from console.blueprint import blp
from console.program import attempt, load, render, requires_program
from coupons import templates as coupon_templates
from tasks import service as tasks
from tasks.models import CAP_PERIODS, STREAK_RESETS, TASK_KINDS
from tasks.schemas import TaskIn, TaskPatch
from tiers import ladder
from till import earn_rules
from till.schemas import EarnRuleIn, EarnRulePatch

RULES_SHOWN = 100
TASKS_SHOWN = 100
BONUS_ROWS = 3  # blank streak-bonus rows offered for additions
WEEKDAYS = [(1, "一"), (2, "二"), (3, "三"), (4, "四"), (5, "五"), (6, "六"), (7, "日")]


# --- earn rules -----------------------------------------------------------------------------------------

def _rule_body(form: MultiDict) -> dict:
    """Every input of the rule form: empty lists mean any tier / category / SKU / day, empty caps no cap."""
    return {"name": forms.text(form, "name"), "percent": forms.whole(form, "percent"),
            "tiers": forms.words(form, "tiers"), "categories": forms.words(form, "categories"),
            "skus": forms.words(form, "skus"), "weekdays": [int(d) for d in forms.words(form, "weekdays")
                                                            if d.isdigit()],
            "start_date": forms.text(form, "start_date"), "end_date": forms.text(form, "end_date"),
            "priority": forms.whole(form, "priority") or 0, "stackable": forms.ticked(form, "stackable"),
            "cap_per_order": forms.whole(form, "cap_per_order"), "cap_per_day": forms.whole(form, "cap_per_day"),
            "active": forms.ticked(form, "active")}


def _rules_page(status: int = 200, **context):
    rules = earn_rules.listing(None, RULES_SHOWN, None)["items"]
    return render("console/program_earn_rules.html", status, rules=rules, tiers=ladder.ladder(),
                  weekdays=WEEKDAYS, **context)


@blp.get("/program/earn-rules")
@requires_program
def program_earn_rules():
    return _rules_page()


@blp.post("/program/earn-rules")
@requires_program
def program_earn_rule_create():
    """Saved even when shadowed (marketing may be preparing it): the answer's warnings are shown at once."""
    saved, error = attempt(lambda: earn_rules.create(load(EarnRuleIn, _rule_body(request.form))))
    if error:
        return _rules_page(422, error=error, form=request.form)
    return _rules_page(saved_rule=saved, notice=f"已创建积分规则「{saved['name']}」。")


@blp.route("/program/earn-rules/<int:rule_id>", methods=["GET", "POST"])
@requires_program
def program_earn_rule(rule_id: int):
    if request.method == "GET":
        rule = earn_rules.with_warnings(earn_rules.get(rule_id))
        return render("console/program_earn_rule.html", rule=rule, tiers=ladder.ladder(), weekdays=WEEKDAYS)
    saved, error = attempt(lambda: earn_rules.update(rule_id, load(EarnRulePatch, _rule_body(request.form))))
    if error:
        rule = earn_rules.with_warnings(earn_rules.get(rule_id))
        return render("console/program_earn_rule.html", 422, rule=rule, tiers=ladder.ladder(), weekdays=WEEKDAYS,
                      error=error, form=request.form)
    return render("console/program_earn_rule.html", rule=saved, tiers=ladder.ladder(), weekdays=WEEKDAYS,
                  notice="已保存。")


# --- tasks ------------------------------------------------------------------------------------------------

def _reward(form: MultiDict, prefix: str) -> dict:
    return {"points": forms.whole(form, f"{prefix}.points") or 0, "growth": forms.whole(form, f"{prefix}.growth") or 0,
            "coupon_template_id": forms.whole(form, f"{prefix}.coupon_template_id")}


def _task_body(form: MultiDict, kind: str) -> dict:
    """The task form: reward and cap for every kind, streak settings for check-in, the invitee's reward for
    invite (the service refuses either on another kind)."""
    body: dict = {"title": forms.text(form, "title"), "description": forms.text(form, "description"),
                  "display_order": forms.whole(form, "display_order") or 0, "active": forms.ticked(form, "active"),
                  "reward": _reward(form, "reward"), "tiers": forms.words(form, "tiers"),
                  "cap": {"period": forms.text(form, "cap.period"), "count": forms.whole(form, "cap.count")}}
    if kind == "checkin":
        body["streak_bonuses"] = [
            {"day": forms.row_int(row, "day", "streak_bonuses"),
             "reward": {"points": forms.row_int(row, "points", "streak_bonuses") if row.get("points") else 0,
                        "growth": forms.row_int(row, "growth", "streak_bonuses") if row.get("growth") else 0}}
            for row in forms.rows(form, "bonus", ("day", "points", "growth"))]
        body["streak_reset"] = forms.text(form, "streak_reset") or "never"
        body["streak_cycle_days"] = forms.whole(form, "streak_cycle_days")
    if kind == "invite":
        body["invitee_reward"] = _reward(form, "invitee_reward")
    return body


def _tasks_page(status: int = 200, **context):
    return render("console/program_tasks.html", status, tasks=tasks.list_tasks(TASKS_SHOWN, None)["items"],
                  kinds=TASK_KINDS, periods=CAP_PERIODS, templates=coupon_templates.list_templates(100, None)["items"],
                  **context)


@blp.get("/program/tasks")
@requires_program
def program_tasks():
    return _tasks_page()


@blp.post("/program/tasks")
@requires_program
def program_task_create():
    form = request.form
    kind = forms.text(form, "kind") or ""
    created, error = attempt(lambda: tasks.create_task(load(TaskIn, {"code": forms.text(form, "code"), "kind": kind,
                                                                      **_task_body(form, kind)})))
    if error:
        return _tasks_page(422, error=error, form=form)
    return redirect(url_for("console.program_task", task_id=created.id, saved=1))


def _task_page(task_id: int, status: int = 200, **context):
    task = tasks.get_task(task_id)
    return render("console/program_task.html", status, task=task, periods=CAP_PERIODS, resets=STREAK_RESETS,
                  bonus_rows=BONUS_ROWS, tiers=ladder.ladder(),
                  templates=coupon_templates.list_templates(100, None)["items"],
                  saved=request.args.get("saved") == "1", **context)


@blp.route("/program/tasks/<int:task_id>", methods=["GET", "POST"])
@requires_program
def program_task(task_id: int):
    if request.method == "GET":
        return _task_page(task_id)
    task = tasks.get_task(task_id)
    _, error = attempt(lambda: tasks.update_task(task_id, load(TaskPatch, _task_body(request.form, task.kind))))
    if error:
        return _task_page(task_id, 422, error=error, form=request.form)
    return redirect(url_for("console.program_task", task_id=task_id, saved=1))
