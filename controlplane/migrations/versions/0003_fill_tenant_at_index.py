"""Fills by tenant and time, for the rolling 24 h volume of every bot of a tenant in one query.

The new (tenant_id, at) index replaces the single-column tenant_id index: its leading column
serves every lookup the old one did, and the fill archive is the busiest table to write.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("fill_archive", schema=None) as batch_op:
        batch_op.create_index("ix_fill_tenant_at", ["tenant_id", "at"], unique=False)
        batch_op.drop_index("ix_fill_archive_tenant_id")


def downgrade() -> None:
    with op.batch_alter_table("fill_archive", schema=None) as batch_op:
        batch_op.create_index("ix_fill_archive_tenant_id", ["tenant_id"], unique=False)
        batch_op.drop_index("ix_fill_tenant_at")
