"""members.purchase_count: how many purchases the till recorded for the member (first purchase = 1)

Revision ID: 0011_member_purchase_count
Revises: 0010_lots_keyset
Create Date: 2026-11-23 17:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0011_member_purchase_count"
down_revision = "0010_lots_keyset"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purchase_count", sa.Integer(), server_default="0", nullable=False))
    op.execute("UPDATE members SET purchase_count = (SELECT count(*) FROM purchases "
               "WHERE purchases.member_id = members.id)")


def downgrade():
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("purchase_count")
