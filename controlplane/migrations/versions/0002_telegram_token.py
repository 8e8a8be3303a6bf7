"""Agents' Telegram bot tokens (write-only, pushed to the agent) and pending deletes of venue
credentials (a delete made while the agent is offline reaches it when it reconnects).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from controlplane.db.types import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "telegram_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("pushed_at", UTCDateTime(), nullable=True),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"]),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agent_id"),
    )
    with op.batch_alter_table("telegram_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_telegram_token_tenant_id"), ["tenant_id"], unique=False
        )
    with op.batch_alter_table("venue_credential", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("venue_credential", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
    with op.batch_alter_table("telegram_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_telegram_token_tenant_id"))
    op.drop_table("telegram_token")
