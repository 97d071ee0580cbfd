"""Importing the brand's existing customers: members.external_id, import batches, uploaded files, row errors

Revision ID: 0022_member_imports
Revises: 0021_api_keys_and_webhooks
Create Date: 2026-11-29 18:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0022_member_imports"
down_revision = "0021_api_keys_and_webhooks"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_members_external_id"), ["external_id"], unique=True)
    op.create_table(
        "import_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("file_format", sa.String(length=8), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["operators.id"], name=op.f("fk_import_batches_created_by_id_operators")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batches")),
    )
    op.create_index("ix_import_batches_fingerprint", "import_batches", ["fingerprint", "dry_run", "state"], unique=False)
    op.create_table(
        "import_file_chunks",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["import_batches.id"], name=op.f("fk_import_file_chunks_batch_id_import_batches")),
        sa.PrimaryKeyConstraint("batch_id", "seq", name=op.f("pk_import_file_chunks")),
    )
    op.create_table(
        "import_row_errors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["import_batches.id"], name=op.f("fk_import_row_errors_batch_id_import_batches")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_row_errors")),
    )
    op.create_index("ix_import_row_errors_batch_row", "import_row_errors", ["batch_id", "row_number", "id"],
                    unique=False)


def downgrade():
    op.drop_index("ix_import_row_errors_batch_row", table_name="import_row_errors")
    op.drop_table("import_row_errors")
    op.drop_table("import_file_chunks")
    op.drop_index("ix_import_batches_fingerprint", table_name="import_batches")
    op.drop_table("import_batches")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_external_id"))
        batch_op.drop_column("external_id")
