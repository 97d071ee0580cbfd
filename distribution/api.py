"""Thin routes of distribution: the promoter's own (/me/promoter), the arriving shopper's (/me/binding),
marketing's (/admin/promoters, /admin/commission-rules, /admin/promoter-levels, /admin/withdrawals,
/admin/distribution/settings and /report)."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app import csv_export, wechat
from app.auth import admin_required, current_identity, current_member_id, member_required
from app.pagination import ListArgs, keyset_page
from distribution import attribution, figures, levels, packs, program, promoters, statements, withdrawals
from distribution.models import Promoter, Withdrawal
from distribution.schemas import (
    BindIn,
    BindOut,
    CardOut,
    CommissionPage,
    EntryPage,
    FanPage,
    GrantIn,
    LevelIn,
    LevelList,
    LevelOut,
    LevelPatch,
    PackOrderCreated,
    PackOrderOut,
    PromoterDetail,
    PromoterOut,
    PromoterPage,
    PromoterQuery,
    PromoterRevokeIn,
    RejectIn,
    ReportOut,
    RuleIn,
    RuleList,
    RuleOut,
    RulePatch,
    SettingsIn,
    SettingsOut,
    ShareArgs,
    ShareOut,
    WithdrawalOut,
    WithdrawalPage,
    WithdrawalQuery,
    WithdrawIn,
)

blp = Blueprint("promoter", __name__, url_prefix="/api/v1/me/promoter",
                description="Distribution (分销): my promoter card, shares, fans, commission, withdrawals")
binding_blp = Blueprint("binding", __name__, url_prefix="/api/v1/me/binding",
                        description="Distribution: the shopper arrived through a promoter's share")
pay_blp = Blueprint("promoter_pay", __name__, url_prefix="/api/v1/pay", description="WeChat Pay callbacks")
admin_blp = Blueprint("admin_distribution", __name__, url_prefix="/api/v1/admin",
                      description="Marketing: distribution settings, levels, rules, promoters, withdrawals, reports")


@blp.route("")
class Card(MethodView):
    @member_required
    @blp.response(200, CardOut)
    def get(self):
        """My promoter card (level, rates, pending / available / withdrawn), or the open routes to become one."""
        return promoters.card(current_member_id())


@blp.route("/apply")
class Apply(MethodView):
    @member_required
    @blp.response(201, CardOut)
    def post(self):
        """Become a promoter on an open route whose condition I meet (check-in days, spend, an active VIP)."""
        promoters.apply(current_member_id())
        return promoters.card(current_member_id())


@blp.route("/pack-orders")
class PackOrders(MethodView):
    @member_required
    @blp.response(201, PackOrderCreated)
    def post(self):
        """Buy the promoter pack -> the parameters for wx.requestPayment; WeChat Pay's notify makes me a promoter."""
        return packs.create_order(current_member_id(), request.remote_addr)


@blp.route("/pack-orders/<order_no>")
class PackOrder(MethodView):
    @member_required
    @blp.response(200, PackOrderOut)
    def get(self, order_no: str):
        """One of my pack orders (poll it after paying)."""
        return packs.get_order(current_member_id(), order_no)


@pay_blp.route("/promoter-notify")
class PackNotify(MethodView):
    @pay_blp.doc(**wechat.NOTIFY_DOC)
    def post(self):
        """WeChat Pay's signed payment result for a promoter pack (no token: the signature is the authentication)."""
        return wechat.answer_notify(packs.handle_notify)


@blp.route("/share")
class Share(MethodView):
    @member_required
    @blp.arguments(ShareArgs, location="query", unknown=RAISE)
    @blp.response(200, ShareOut)
    def get(self, args):
        """What the mini-program needs to share the store or a product with my promoter code."""
        return attribution.share(current_member_id(), args["sku"])


@binding_blp.route("")
class Bind(MethodView):
    @member_required
    @binding_blp.arguments(BindIn)
    @binding_blp.response(200, BindOut)
    def post(self, body):
        """I arrived through a promoter's share (the code from the page's `scene`): bind me to them."""
        return attribution.bind(current_member_id(), body["promoter_code"], body["channel"])


@blp.route("/fans")
class Fans(MethodView):
    @member_required
    @blp.arguments(ListArgs, location="query", unknown=RAISE)
    @blp.response(200, FanPage)
    def get(self, args):
        """My bound shoppers (masked)."""
        return statements.fans(current_member_id(), args["limit"], args["cursor"])


@blp.route("/commission")
class Commissions(MethodView):
    @member_required
    @blp.arguments(ListArgs, location="query", unknown=RAISE)
    @blp.response(200, CommissionPage)
    def get(self, args):
        """My commission per order (orders and buyers masked)."""
        return statements.commissions(current_member_id(), args["limit"], args["cursor"])


@blp.route("/commission/ledger")
class Ledger(MethodView):
    @member_required
    @blp.arguments(ListArgs, location="query", unknown=RAISE)
    @blp.response(200, EntryPage)
    def get(self, args):
        """My commission ledger, newest first."""
        return statements.ledger(current_member_id(), args["limit"], args["cursor"])


@blp.route("/withdrawals")
class Withdrawals(MethodView):
    @member_required
    @blp.arguments(ListArgs, location="query", unknown=RAISE)
    @blp.response(200, WithdrawalPage)
    def get(self, args):
        """My withdrawals, newest first."""
        return keyset_page(withdrawals.of_member(current_member_id()), Withdrawal.id, args["limit"], args["cursor"])

    @member_required
    @blp.arguments(WithdrawIn)
    @blp.response(201, WithdrawalOut)
    def post(self, body):
        """Withdraw settled commission to my WeChat wallet (idempotent by withdrawal_no)."""
        return withdrawals.withdraw(current_member_id(), body["withdrawal_no"], body["amount"], body["real_name"])


# --- marketing ------------------------------------------------------------------------------------------

@admin_blp.route("/distribution/settings")
class Settings(MethodView):
    @admin_required
    @admin_blp.response(200, SettingsOut)
    def get(self):
        """The program's settings."""
        return program.settings_view()

    @admin_required
    @admin_blp.arguments(SettingsIn)
    @admin_blp.response(200, SettingsOut)
    def patch(self, body):
        """Switch distribution on or off, open routes, set windows and withdrawal limits (audited)."""
        return program.update_settings(body)


@admin_blp.route("/promoter-levels")
class Levels(MethodView):
    @admin_required
    @admin_blp.response(200, LevelList)
    def get(self):
        """The fan-group ladder, lowest first."""
        return {"items": program.list_levels()}

    @admin_required
    @admin_blp.arguments(LevelIn)
    @admin_blp.response(201, LevelOut)
    def post(self, body):
        """Add a level (audited)."""
        return program.save_level(None, body)


@admin_blp.route("/promoter-levels/<int:level_id>")
class Level(MethodView):
    @admin_required
    @admin_blp.arguments(LevelPatch)
    @admin_blp.response(200, LevelOut)
    def patch(self, body, level_id: int):
        """Edit a level (audited); the next review moves promoters up to it."""
        return program.save_level(level_id, body)


@admin_blp.route("/commission-rules")
class Rules(MethodView):
    @admin_required
    @admin_blp.response(200, RuleList)
    def get(self):
        """Every commission rule."""
        return {"items": program.list_rules()}

    @admin_required
    @admin_blp.arguments(RuleIn)
    @admin_blp.response(201, RuleOut)
    def post(self, body):
        """Add a commission rule (audited)."""
        return program.save_rule(None, body)


@admin_blp.route("/commission-rules/<int:rule_id>")
class Rule(MethodView):
    @admin_required
    @admin_blp.arguments(RulePatch)
    @admin_blp.response(200, RuleOut)
    def patch(self, body, rule_id: int):
        """Edit a rule (audited); sales already attributed keep their commission."""
        return program.save_rule(rule_id, body)


@admin_blp.route("/promoters")
class AdminPromoters(MethodView):
    @admin_required
    @admin_blp.arguments(PromoterQuery, location="query", unknown=RAISE)
    @admin_blp.response(200, PromoterPage)
    def get(self, args):
        """Promoters, newest first, filtered by state, level or a search (nickname, phone, code)."""
        return promoters.admin_page(args["state"], args["level_id"], args["q"], args["limit"], args["cursor"])

    @admin_required
    @admin_blp.arguments(GrantIn)
    @admin_blp.response(201, PromoterOut)
    def post(self, body):
        """Grant the promoter role to a member (a KOC from the KOC report, say), audited."""
        promoter = promoters.grant(body["member_id"])
        return _admin_view(promoter)


@admin_blp.route("/promoters.csv")
class AdminPromotersCsv(MethodView):
    @admin_required
    @admin_blp.arguments(PromoterQuery, location="query", unknown=RAISE)
    @admin_blp.response(200, content_type="text/csv")
    def get(self, args):
        """The filtered promoter list as CSV (phones masked)."""
        stmt = promoters.admin_rows(args["state"], args["level_id"], args["q"])
        return csv_export.response(figures.promoters_csv(stmt), "promoters")


@admin_blp.route("/promoters/<int:promoter_id>")
class AdminPromoter(MethodView):
    @admin_required
    @admin_blp.response(200, PromoterDetail)
    def get(self, promoter_id: int):
        """One promoter with their level history."""
        promoter = promoters.get(promoter_id)
        return {**_admin_view(promoter), "level_history": levels.history(promoter.id)}


@admin_blp.route("/promoters/<int:promoter_id>/revoke")
class AdminRevoke(MethodView):
    @admin_required
    @admin_blp.arguments(PromoterRevokeIn)
    @admin_blp.response(200, PromoterOut)
    def post(self, body, promoter_id: int):
        """Revoke the role (audited): no new binding or commission; earned money stays theirs."""
        return _admin_view(promoters.revoke(promoter_id, body["reason"]))


@admin_blp.route("/withdrawals")
class AdminWithdrawals(MethodView):
    @admin_required
    @admin_blp.arguments(WithdrawalQuery, location="query", unknown=RAISE)
    @admin_blp.response(200, WithdrawalPage)
    def get(self, args):
        """Withdrawals, newest first; `state=awaiting_approval` is the approval queue."""
        return keyset_page(withdrawals.admin_rows(args["state"]), Withdrawal.id, args["limit"], args["cursor"])


@admin_blp.route("/withdrawals/<int:withdrawal_id>/approve")
class AdminApprove(MethodView):
    @admin_required
    @admin_blp.response(200, WithdrawalOut)
    def post(self, withdrawal_id: int):
        """Approve a withdrawal above the threshold: it is sent to WeChat Pay at once (audited)."""
        return withdrawals.decide(withdrawal_id, current_identity().id, approve=True)


@admin_blp.route("/withdrawals/<int:withdrawal_id>/reject")
class AdminReject(MethodView):
    @admin_required
    @admin_blp.arguments(RejectIn)
    @admin_blp.response(200, WithdrawalOut)
    def post(self, body, withdrawal_id: int):
        """Reject a withdrawal above the threshold: the money goes back to the balance (audited)."""
        return withdrawals.decide(withdrawal_id, current_identity().id, approve=False, reason=body["reason"])


@admin_blp.route("/withdrawals/<int:withdrawal_id>/retry")
class AdminRetry(MethodView):
    @admin_required
    @admin_blp.response(200, WithdrawalOut)
    def post(self, withdrawal_id: int):
        """Send a withdrawal left processing (WeChat Pay's answer was lost) again, under the same number."""
        return withdrawals.retry(withdrawal_id)


@admin_blp.route("/distribution/report")
class AdminReport(MethodView):
    @admin_required
    @admin_blp.response(200, ReportOut)
    def get(self):
        """Top promoters by attributed GMV, the commission liability, the conversion of shares."""
        return figures.report()


def _admin_view(promoter: Promoter) -> dict:
    return promoters.admin_one(promoter.id)


blueprints = [blp, binding_blp, pay_blp, admin_blp]
