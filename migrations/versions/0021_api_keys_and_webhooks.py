"""api_keys (POS and server-to-server callers, signed requests) and the webhook outbox: endpoints, events,
deliveries

Revision ID: 0021_api_keys_and_webhooks
Revises: 0020_distribution
Create Date: 2026-11-29 18:20:46.752324

"""
import sqlalchemy as sa
from alembic import op

revision = "0021_api_keys_and_webhooks"
down_revision = "0020_distribution"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("webhook_endpoints",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("url", sa.String(length=500), nullable=False),
    sa.Column("description", sa.String(length=128), nullable=False),
    sa.Column("events", sa.JSON(), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("salt", sa.String(length=64), nullable=False),
    sa.Column("previous_salt", sa.String(length=64), nullable=True),
    sa.Column("previous_valid_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
    sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("pause_reason", sa.String(length=255), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints"))
    )
    op.create_table("webhook_events",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("type", sa.String(length=40), nullable=False),
    sa.Column("member_id", sa.Integer(), nullable=True),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events"))
    )
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_events_created_at"), ["created_at"], unique=False)

    op.create_table("api_keys",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("key_id", sa.String(length=40), nullable=False),
    sa.Column("name", sa.String(length=64), nullable=False),
    sa.Column("role", sa.String(length=16), nullable=False),
    sa.Column("store_id", sa.Integer(), nullable=True),
    sa.Column("salt", sa.String(length=64), nullable=False),
    sa.Column("previous_salt", sa.String(length=64), nullable=True),
    sa.Column("previous_valid_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("rate_per_minute", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_api_keys_store_id_stores")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    sa.UniqueConstraint("key_id", name=op.f("uq_api_keys_key_id"))
    )
    op.create_table("webhook_deliveries",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("event_id", sa.Integer(), nullable=False),
    sa.Column("endpoint_id", sa.Integer(), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_status", sa.Integer(), nullable=True),
    sa.Column("last_error", sa.String(length=255), nullable=True),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoints.id"], name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints")),
    sa.ForeignKeyConstraint(["event_id"], ["webhook_events.id"], name=op.f("fk_webhook_deliveries_event_id_webhook_events")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries"))
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_deliveries_due", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_webhook_deliveries_endpoint", ["endpoint_id", "id"], unique=False)



def downgrade():
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_endpoint")
        batch_op.drop_index("ix_webhook_deliveries_due")

    op.drop_table("webhook_deliveries")
    op.drop_table("api_keys")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_events_created_at"))

    op.drop_table("webhook_events")
    op.drop_table("webhook_endpoints")
