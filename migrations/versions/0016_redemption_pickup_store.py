"""redemptions.pickup_store_id: the store a member chose to pick a gift up at (only its staff hand it over)

Revision ID: 0016_redemption_pickup_store
Revises: 0015_member_code_nonce
Create Date: 2026-12-06 11:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0016_redemption_pickup_store"
down_revision = "0015_member_code_nonce"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pickup_store_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_redemptions_pickup_store_id_stores"), "stores",
                                    ["pickup_store_id"], ["id"])


def downgrade():
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_redemptions_pickup_store_id_stores"), type_="foreignkey")
        batch_op.drop_column("pickup_store_id")
