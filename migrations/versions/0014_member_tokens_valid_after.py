"""members.tokens_valid_after: member tokens issued at or before it are refused (sessions revoked by an operator)

Revision ID: 0014_member_tokens_valid_after
Revises: 0013_notification_retry_time
Create Date: 2026-11-29 17:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0014_member_tokens_valid_after"
down_revision = "0013_notification_retry_time"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tokens_valid_after", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("tokens_valid_after")
