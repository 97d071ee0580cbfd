"""notifications.next_attempt_at: when a message waiting for another try is due (batched delivery)

Revision ID: 0013_notification_retry_time
Revises: 0012_tier_policy_growth_rate
Create Date: 2026-11-29 16:45:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0013_notification_retry_time"
down_revision = "0012_tier_policy_growth_rate"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("next_attempt_at")
