"""members.code_nonce: member codes consumed so far, mixed into the code's HMAC (a fresh code once one is used)

Revision ID: 0015_member_code_nonce
Revises: 0014_member_tokens_valid_after
Create Date: 2026-12-06 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0015_member_code_nonce"
down_revision = "0014_member_tokens_valid_after"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code_nonce", sa.Integer(), server_default="0", nullable=False))


def downgrade():
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("code_nonce")
