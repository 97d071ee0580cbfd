"""till: refunds by lines / in full (points-only orders), earn-cap release on refund, config version row

Revision ID: 0009_till_refunds
Revises: 0008_reports
Create Date: 2026-11-24 10:00:00

"""
import uuid

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0009_till_refunds"
down_revision = "0008_reports"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("points_config_version",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("token", sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_points_config_version"))
    )
    op.execute(f"INSERT INTO points_config_version (id, token) VALUES (1, '{uuid.uuid4().hex}')")
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refunded_full", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("purchase_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refunded_qty", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("earn_rule_uses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("released", sa.Integer(), server_default="0", nullable=False))
    # orders refunded in full before this revision: all their money came back
    op.execute("UPDATE purchases SET refunded_full = true WHERE paid > 0 AND refunded_amount >= paid")


def downgrade():
    with op.batch_alter_table("earn_rule_uses", schema=None) as batch_op:
        batch_op.drop_column("released")
    with op.batch_alter_table("purchase_lines", schema=None) as batch_op:
        batch_op.drop_column("refunded_qty")
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_column("refunded_full")
    op.drop_table("points_config_version")
