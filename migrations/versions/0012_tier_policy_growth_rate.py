"""tier_policy.growth_per_yuan: growth value a purchase adds per yuan paid (was a constant of 1 in code)

Revision ID: 0012_tier_policy_growth_rate
Revises: 0011_member_purchase_count
Create Date: 2026-11-29 16:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0012_tier_policy_growth_rate"
down_revision = "0011_member_purchase_count"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tier_policy", schema=None) as batch_op:
        batch_op.add_column(sa.Column("growth_per_yuan", sa.Integer(), server_default="1", nullable=False))


def downgrade():
    with op.batch_alter_table("tier_policy", schema=None) as batch_op:
        batch_op.drop_column("growth_per_yuan")
