"""index tasks by (key_id, state): the per-key limit check reads it on every submit

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tasks_key_state", "tasks", ["key_id", "state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tasks_key_state", table_name="tasks")
