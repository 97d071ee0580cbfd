"""consumed_member_codes.consumed_at indexed: the daily purge finds the old rows without a scan

Revision ID: 0017_consumed_codes_by_time
Revises: 0016_redemption_pickup_store
Create Date: 2026-11-29 17:55:00

"""
from alembic import op

revision = "0017_consumed_codes_by_time"
down_revision = "0016_redemption_pickup_store"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("consumed_member_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consumed_member_codes_consumed_at"), ["consumed_at"], unique=False)


def downgrade():
    with op.batch_alter_table("consumed_member_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consumed_member_codes_consumed_at"))
