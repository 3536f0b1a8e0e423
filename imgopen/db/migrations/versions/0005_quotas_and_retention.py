"""per-key quotas and usage (tasks and images per day, stored bytes); tasks record their images,
their stored bytes and when their files expired

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("quota_tasks_per_day", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("quota_images_per_day", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("quota_storage_bytes", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("stored_bytes", sa.BigInteger(), nullable=False, server_default="0"))
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("images", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("stored_bytes", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("files_expired_at", sa.BigInteger(), nullable=True))
    op.create_index("ix_tasks_retention", "tasks", ["files_expired_at", "finished_at"], unique=False)
    op.create_table(
        "key_usage",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("tasks", sa.Integer(), nullable=False),
        sa.Column("images", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "day"),
    )


def downgrade() -> None:
    op.drop_table("key_usage")
    op.drop_index("ix_tasks_retention", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("files_expired_at")
        batch.drop_column("stored_bytes")
        batch.drop_column("images")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("stored_bytes")
        batch.drop_column("quota_storage_bytes")
        batch.drop_column("quota_images_per_day")
        batch.drop_column("quota_tasks_per_day")
