"""distribution (分销): settings, levels, commission rules, promoters and their ledger, bindings and their history,
commissions, withdrawals, promoter pack orders

Revision ID: 0020_distribution
Revises: 0017_consumed_codes_by_time
Create Date: 2026-11-29 18:19:01

"""
import sqlalchemy as sa
from alembic import op

revision = "0020_distribution"
down_revision = "0017_consumed_codes_by_time"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("distribution_levels",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("code", sa.String(length=32), nullable=False),
    sa.Column("name", sa.String(length=64), nullable=False),
    sa.Column("rank", sa.Integer(), nullable=False),
    sa.Column("min_fans", sa.Integer(), nullable=False),
    sa.Column("min_gmv", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_distribution_levels")),
    sa.UniqueConstraint("code", name=op.f("uq_distribution_levels_code")),
    sa.UniqueConstraint("rank", name=op.f("uq_distribution_levels_rank"))
    )
    op.create_table("distribution_settings",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("checkin_days", sa.Integer(), nullable=True),
    sa.Column("spend", sa.Integer(), nullable=True),
    sa.Column("vip_route", sa.Boolean(), nullable=False),
    sa.Column("pack_price", sa.Integer(), nullable=True),
    sa.Column("binding_days", sa.Integer(), nullable=False),
    sa.Column("touch", sa.String(length=8), nullable=False),
    sa.Column("return_days", sa.Integer(), nullable=False),
    sa.Column("second_level_bp", sa.Integer(), nullable=True),
    sa.Column("withdraw_min", sa.Integer(), nullable=False),
    sa.Column("withdraw_daily_count", sa.Integer(), nullable=False),
    sa.Column("withdraw_approval_over", sa.Integer(), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_distribution_settings"))
    )
    op.create_table("distribution_rules",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=64), nullable=False),
    sa.Column("sku", sa.String(length=64), nullable=True),
    sa.Column("category", sa.String(length=64), nullable=True),
    sa.Column("level_id", sa.Integer(), nullable=True),
    sa.Column("rate_bp", sa.Integer(), nullable=False),
    sa.Column("cap_per_order", sa.Integer(), nullable=True),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["level_id"], ["distribution_levels.id"], name=op.f("fk_distribution_rules_level_id_distribution_levels")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_distribution_rules"))
    )
    op.create_table("distribution_pack_orders",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("order_no", sa.String(length=32), nullable=False),
    sa.Column("member_id", sa.Integer(), nullable=False),
    sa.Column("amount", sa.Integer(), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("prepay_id", sa.String(length=128), nullable=True),
    sa.Column("transaction_id", sa.String(length=64), nullable=True),
    sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_distribution_pack_orders_member_id_members")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_distribution_pack_orders")),
    sa.UniqueConstraint("order_no", name=op.f("uq_distribution_pack_orders_order_no")),
    sa.UniqueConstraint("transaction_id", name=op.f("uq_distribution_pack_orders_transaction_id"))
    )
    with op.batch_alter_table("distribution_pack_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_distribution_pack_orders_member_id"), ["member_id"], unique=False)

    op.create_table("distribution_promoters",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("member_id", sa.Integer(), nullable=False),
    sa.Column("code", sa.String(length=16), nullable=False),
    sa.Column("state", sa.String(length=8), nullable=False),
    sa.Column("source", sa.String(length=16), nullable=False),
    sa.Column("level_id", sa.Integer(), nullable=True),
    sa.Column("parent_id", sa.Integer(), nullable=True),
    sa.Column("pending", sa.Integer(), nullable=False),
    sa.Column("balance", sa.Integer(), nullable=False),
    sa.Column("frozen", sa.Integer(), nullable=False),
    sa.Column("withdrawn", sa.Integer(), nullable=False),
    sa.Column("fans", sa.Integer(), nullable=False),
    sa.Column("gmv", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("frozen >= 0", name=op.f("ck_distribution_promoters_promoter_frozen_not_negative")),
    sa.CheckConstraint("pending >= 0", name=op.f("ck_distribution_promoters_promoter_pending_not_negative")),
    sa.ForeignKeyConstraint(["level_id"], ["distribution_levels.id"], name=op.f("fk_distribution_promoters_level_id_distribution_levels")),
    sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_distribution_promoters_member_id_members")),
    sa.ForeignKeyConstraint(["parent_id"], ["distribution_promoters.id"], name=op.f("fk_distribution_promoters_parent_id_distribution_promoters")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_distribution_promoters")),
    sa.UniqueConstraint("code", name=op.f("uq_distribution_promoters_code")),
    sa.UniqueConstraint("member_id", name=op.f("uq_distribution_promoters_member_id"))
    )
    with op.batch_alter_table("distribution_promoters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_distribution_promoters_level_id"), ["level_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_distribution_promoters_state"), ["state"], unique=False)

    op.create_table("distribution_binding_changes",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("member_id", sa.Integer(), nullable=False),
    sa.Column("from_promoter_id", sa.Integer(), nullable=True),
    sa.Column("to_promoter_id", sa.Integer(), nullable=False),
    sa.Column("channel", sa.String(length=32), nullable=False),
    sa.Column("outcome", sa.String(length=16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["from_promoter_id"], ["distribution_promoters.id"], name=op.f("fk_distribution_binding_changes_from_promoter_id_distribution_promoters")),
    sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_distribution_binding_changes_member_id_members")),
    sa.ForeignKeyConstraint(["to_promoter_id"], ["distribution_promoters.id"], name=op.f("fk_distribution_binding_changes_to_promoter_id_distribution_promoters")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_distribution_binding_changes"))
    )
    with op.batch_alter_table("distribution_binding_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_distribution_binding_changes_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_distribution_binding_changes_to_promoter_id"), ["to_promoter_id"], unique=False)

    op.create_table("distribution_bindings",
    sa.Column("member_id", sa.Integer(), nullable=False),
    sa.Column("promoter_id", sa.Integer(), nullable=False),
    sa.Column("channel", sa.String(length=32), nullable=False),
    sa.Column("bought", sa.Boolean(), nullable=False),
    sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_distribution_bindings_member_id_members")),
    sa.ForeignKeyConstraint(["promoter_id"], ["distribution_promoters.id"], name=op.f("fk_distribution_bindings_promoter_id_distribution_promoters")),
    sa.PrimaryKeyConstraint("member_id", name=op.f("pk_distribution_bindings"))
    )
    with op.batch_alter_table("distribution_bindings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_distribution_bindings_promoter_id"), ["promoter_id"], unique=False)

    op.create_table("distribution_ledger",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("promoter_id", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("key", sa.String(length=96), nullable=False),
    sa.Column("pending_delta", sa.Integer(), nullable=False),
    sa.Column("balance_delta", sa.Integer(), nullable=False),
    sa.Column("frozen_delta", sa.Integer(), nullable=False),
    sa.Column("pending_after", sa.Integer(), nullable=False),
    sa.Column("balance_after", sa.Integer(), nullable=False),
    sa.Column("frozen_after", sa.Integer(), nullable=False),
    sa.Column("cause_type", sa.String(length=16), nullable=False),
    sa.Column("cause_id", sa.Integer(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["promoter_id"], ["distribution_promoters.id"], name=op.f("fk_distribution_ledger_promoter_id_distribution_promoters")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_distribution_ledger")),
    sa.UniqueConstraint("key", name=op.f("uq_distribution_ledger_key"))
    )
    with op.batch_alter_table("distribution_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_distribution_ledger_promoter", ["promoter_id", "id"], unique=False)

    op.create_table("distribution_level_changes",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("promoter_id", sa.Integer(), nullable=False),
    sa.Column("from_level_id", sa.Integer(), nullable=True),
    sa.Column("to_level_id", sa.Integer(), nullable=False),
    sa.Column("fans", sa.Integer(), nullable=False),
    sa.Column("gmv", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["from_level_id"], ["distribution_levels.id"], name=op.f("fk_distribution_level_changes_from_level_id_distribution_levels")),
    sa.ForeignKeyConstraint(["promoter_id"], ["distribution_promoters.id"], name=op.f("fk_distribution_level_changes_promoter_id_distribution_promoters")),
    sa.ForeignKeyConstraint(["to_level_id"], ["distribution_levels.id"], name=op.f("fk_distribution_level_changes_to_level_id_distribution_levels")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_distribution_level_changes"))
    )
    with op.batch_alter_table("distribution_level_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_distribution_level_changes_promoter_id"), ["promoter_id"], unique=False)

    op.create_table("distribution_withdrawals",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("withdrawal_no", sa.String(length=32), nullable=False),
    sa.Column("promoter_id", sa.Integer(), nullable=False),
    sa.Column("amount", sa.Integer(), nullable=False),
    sa.Column("real_name", sa.String(length=64), nullable=True),
    sa.Column("state", sa.String(length=20), nullable=False),
    sa.Column("business_date", sa.Date(), nullable=False),
    sa.Column("payment_no", sa.String(length=64), nullable=True),
    sa.Column("failure", sa.String(length=128), nullable=True),
    sa.Column("decided_by", sa.Integer(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["decided_by"], ["operators.id"], name=op.f("fk_distribution_withdrawals_decided_by_operators")),
    sa.ForeignKeyConstraint(["promoter_id"], ["distribution_promoters.id"], name=op.f("fk_distribution_withdrawals_promoter_id_distribution_promoters")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_distribution_withdrawals")),
    sa.UniqueConstraint("withdrawal_no", name=op.f("uq_distribution_withdrawals_withdrawal_no"))
    )
    with op.batch_alter_table("distribution_withdrawals", schema=None) as batch_op:
        batch_op.create_index("ix_distribution_withdrawals_day", ["promoter_id", "business_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_distribution_withdrawals_state"), ["state"], unique=False)

    op.create_table("distribution_commissions",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("purchase_id", sa.Integer(), nullable=True),
    sa.Column("redemption_id", sa.Integer(), nullable=True),
    sa.Column("promoter_id", sa.Integer(), nullable=False),
    sa.Column("buyer_id", sa.Integer(), nullable=False),
    sa.Column("depth", sa.Integer(), nullable=False),
    sa.Column("base", sa.Integer(), nullable=False),
    sa.Column("amount", sa.Integer(), nullable=False),
    sa.Column("reversed", sa.Integer(), nullable=False),
    sa.Column("state", sa.String(length=8), nullable=False),
    sa.Column("settle_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("settle_entry_id", sa.Integer(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["buyer_id"], ["members.id"], name=op.f("fk_distribution_commissions_buyer_id_members")),
    sa.ForeignKeyConstraint(["promoter_id"], ["distribution_promoters.id"], name=op.f("fk_distribution_commissions_promoter_id_distribution_promoters")),
    sa.ForeignKeyConstraint(["purchase_id"], ["purchases.id"], name=op.f("fk_distribution_commissions_purchase_id_purchases")),
    sa.ForeignKeyConstraint(["redemption_id"], ["redemptions.id"], name=op.f("fk_distribution_commissions_redemption_id_redemptions")),
    sa.CheckConstraint("(purchase_id IS NULL) <> (redemption_id IS NULL)", name=op.f("ck_distribution_commissions_commission_one_sale")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_distribution_commissions")),
    sa.UniqueConstraint("purchase_id", "depth", name=op.f("uq_distribution_commissions_purchase_id_depth")),
    sa.UniqueConstraint("redemption_id", "depth", name=op.f("uq_distribution_commissions_redemption_id_depth"))
    )
    with op.batch_alter_table("distribution_commissions", schema=None) as batch_op:
        batch_op.create_index("ix_distribution_commissions_due", ["state", "settle_at", "id"], unique=False)
        batch_op.create_index("ix_distribution_commissions_promoter", ["promoter_id", "id"], unique=False)



def downgrade():
    with op.batch_alter_table("distribution_commissions", schema=None) as batch_op:
        batch_op.drop_index("ix_distribution_commissions_promoter")
        batch_op.drop_index("ix_distribution_commissions_due")

    op.drop_table("distribution_commissions")
    with op.batch_alter_table("distribution_withdrawals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_distribution_withdrawals_state"))
        batch_op.drop_index("ix_distribution_withdrawals_day")

    op.drop_table("distribution_withdrawals")
    with op.batch_alter_table("distribution_level_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_distribution_level_changes_promoter_id"))

    op.drop_table("distribution_level_changes")
    with op.batch_alter_table("distribution_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_distribution_ledger_promoter")

    op.drop_table("distribution_ledger")
    with op.batch_alter_table("distribution_bindings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_distribution_bindings_promoter_id"))

    op.drop_table("distribution_bindings")
    with op.batch_alter_table("distribution_binding_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_distribution_binding_changes_to_promoter_id"))
        batch_op.drop_index(batch_op.f("ix_distribution_binding_changes_member_id"))

    op.drop_table("distribution_binding_changes")
    with op.batch_alter_table("distribution_promoters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_distribution_promoters_state"))
        batch_op.drop_index(batch_op.f("ix_distribution_promoters_level_id"))

    op.drop_table("distribution_promoters")
    with op.batch_alter_table("distribution_pack_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_distribution_pack_orders_member_id"))

    op.drop_table("distribution_pack_orders")
    op.drop_table("distribution_rules")
    op.drop_table("distribution_settings")
    op.drop_table("distribution_levels")
