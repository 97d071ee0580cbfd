"""lots: the expiry and activation jobs walk (state, time, id) indexes

Revision ID: 0010_lots_keyset
Revises: 0009_till_refunds
Create Date: 2026-11-23 15:30:00

"""
from alembic import op

revision = "0010_lots_keyset"
down_revision = "0009_till_refunds"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("points_lots", schema=None) as batch_op:
        batch_op.drop_index("ix_points_lots_state_expiry")
        batch_op.drop_index("ix_points_lots_state_available")
        batch_op.create_index("ix_points_lots_state_expiry_id", ["state", "expires_at", "id"], unique=False)
        batch_op.create_index("ix_points_lots_state_available_id", ["state", "available_at", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("points_lots", schema=None) as batch_op:
        batch_op.drop_index("ix_points_lots_state_available_id")
        batch_op.drop_index("ix_points_lots_state_expiry_id")
        batch_op.create_index("ix_points_lots_state_available", ["state", "available_at"], unique=False)
        batch_op.create_index("ix_points_lots_state_expiry", ["state", "expires_at"], unique=False)
