"""The tier ladder: public read, marketing CRUD and the ladder policy."""
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import admin_required, current_member_id, member_required
from app.pagination import ListArgs, page_schema
from tiers import ladder
from tiers.schemas import (
    PublicLadder,
    TierChangeOut,
    TierIn,
    TierList,
    TierOut,
    TierPatch,
    TierPolicyIn,
    TierPolicyOut,
)

blp = Blueprint("tiers", __name__, url_prefix="/api/v1/tiers", description="The tier ladder")
me_blp = Blueprint("my_tier", __name__, url_prefix="/api/v1/me", description="The shopper's tier history")
admin_blp = Blueprint("admin_tiers", __name__, url_prefix="/api/v1/admin", description="Marketing: tiers")


@blp.route("")
class Ladder(MethodView):
    @blp.response(200, PublicLadder)
    def get(self):
        """The tier ladder with each tier's benefit table (no token needed: it is the program's brochure)."""
        return {"items": ladder.ladder()}


@me_blp.route("/tier-history")
class MyTierHistory(MethodView):
    @member_required
    @me_blp.arguments(ListArgs, location="query")
    @me_blp.response(200, page_schema(TierChangeOut, "TierChangePage"))
    def get(self, args):
        """My upgrades and downgrades, newest first."""
        return ladder.history(current_member_id(), args["limit"], args["cursor"])


@admin_blp.route("/tiers")
class AdminTiers(MethodView):
    @admin_required
    @admin_blp.response(200, TierList)
    def get(self):
        """Every tier, lowest rank first."""
        return {"items": ladder.ladder()}

    @admin_required
    @admin_blp.arguments(TierIn)
    @admin_blp.response(201, TierOut)
    def post(self, body):
        """Add a tier; rank and thresholds must stay consistent with the ladder (422)."""
        return ladder.save_tier(None, body)


@admin_blp.route("/tiers/<int:tier_id>")
class AdminTier(MethodView):
    @admin_required
    @admin_blp.response(200, TierOut)
    def get(self, tier_id: int):
        """One tier."""
        return ladder.get_tier(tier_id)

    @admin_required
    @admin_blp.arguments(TierPatch)
    @admin_blp.response(200, TierOut)
    def patch(self, body, tier_id: int):
        """Edit a tier; `benefits` replaces the whole benefit table. Affects the next transaction only."""
        return ladder.save_tier(tier_id, body)


@admin_blp.route("/tier-policy")
class AdminTierPolicy(MethodView):
    @admin_required
    @admin_blp.response(200, TierPolicyOut)
    def get(self):
        """How downgrades happen at review, and what a refund that removes growth does."""
        return ladder.get_policy()

    @admin_required
    @admin_blp.arguments(TierPolicyIn)
    @admin_blp.response(200, TierPolicyOut)
    def put(self, body):
        """Change the ladder policy (audited)."""
        return ladder.update_policy(body)


blueprints = [blp, me_blp, admin_blp]
