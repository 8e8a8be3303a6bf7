"""Initial schema: tenants, users, tokens, agents, bots, configs, credentials, archives,
daily stats and the audit log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from controlplane.db.types import DecimalType, JSONType, UTCDateTime

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_user_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "tls_material",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("ca_cert_pem", sa.Text(), nullable=False),
        sa.Column("client_cert_pem", sa.Text(), nullable=False),
        sa.Column("client_key_enc", sa.Text(), nullable=False),
        sa.Column("server_name", sa.String(length=255), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("tls_material", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tls_material_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "agent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("endpoint", sa.String(length=255), nullable=False),
        sa.Column("token_enc", sa.Text(), nullable=False),
        sa.Column("tls_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=True),
        sa.Column("agent_version", sa.String(length=64), nullable=False),
        sa.Column("archived_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
        ),
        sa.ForeignKeyConstraint(
            ["tls_id"],
            ["tls_material.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_agent_tenant_name"),
    )
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("display", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_token_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_api_token_user_id"), ["user_id"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("id", BigIntPK, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", JSONType, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_tenant_at", ["tenant_id", "id"], unique=False)

    op.create_table(
        "bot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("venue", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("applied_version", sa.Integer(), nullable=True),
        sa.Column("agent_config_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agent.id"],
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agent_id", "name", name="uq_bot_agent_name"),
    )
    with op.batch_alter_table("bot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bot_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bot_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "config_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("bot_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("agent_version", sa.Integer(), nullable=True),
        sa.Column("config", JSONType, nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["bot.id"],
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bot_id", "agent_version", name="uq_config_bot_agent_version"),
        sa.UniqueConstraint("bot_id", "version", name="uq_config_bot_version"),
    )
    with op.batch_alter_table("config_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_config_version_bot_id"), ["bot_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_config_version_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "daily_stat",
        sa.Column("id", BigIntPK, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("bot_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("volume_quote", DecimalType(), nullable=False),
        sa.Column("fees_quote", DecimalType(), nullable=False),
        sa.Column("fills", sa.Integer(), nullable=False),
        sa.Column("pnl_open_quote", DecimalType(), nullable=True),
        sa.Column("pnl_close_quote", DecimalType(), nullable=True),
        sa.Column("running_seconds", sa.Float(), nullable=False),
        sa.Column("observed_seconds", sa.Float(), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=True),
        sa.Column("last_state", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["bot.id"],
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bot_id", "day", name="uq_daily_bot_day"),
    )
    with op.batch_alter_table("daily_stat", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_daily_stat_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "event_archive",
        sa.Column("id", BigIntPK, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("bot_id", sa.Integer(), nullable=True),
        sa.Column("bot_name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("data", JSONType, nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agent.id"],
        ),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["bot.id"],
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agent_id", "seq", name="uq_event_agent_seq"),
    )
    with op.batch_alter_table("event_archive", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_archive_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index("ix_event_bot_seq", ["bot_id", "seq"], unique=False)

    op.create_table(
        "fill_archive",
        sa.Column("id", BigIntPK, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("bot_id", sa.Integer(), nullable=False),
        sa.Column("trade_id", sa.String(length=128), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("price", DecimalType(), nullable=False),
        sa.Column("amount", DecimalType(), nullable=False),
        sa.Column("fee", DecimalType(), nullable=False),
        sa.Column("fee_asset", sa.String(length=32), nullable=False),
        sa.Column("liquidity", sa.String(length=16), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agent.id"],
        ),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["bot.id"],
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bot_id", "trade_id", name="uq_fill_bot_trade"),
    )
    with op.batch_alter_table("fill_archive", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fill_archive_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index("ix_fill_bot_seq", ["bot_id", "seq"], unique=False)

    op.create_table(
        "order_archive",
        sa.Column("id", BigIntPK, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("bot_id", sa.Integer(), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("venue_order_id", sa.String(length=128), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("price", DecimalType(), nullable=False),
        sa.Column("amount", DecimalType(), nullable=False),
        sa.Column("filled", DecimalType(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("post_only", sa.Boolean(), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agent.id"],
        ),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["bot.id"],
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bot_id", "client_order_id", name="uq_order_bot_coid"),
    )
    with op.batch_alter_table("order_archive", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_archive_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index("ix_order_bot_seq", ["bot_id", "last_seq"], unique=False)

    op.create_table(
        "venue_credential",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("bot_id", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("pushed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["bot.id"],
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bot_id"),
    )
    with op.batch_alter_table("venue_credential", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_venue_credential_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("venue_credential", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_venue_credential_tenant_id"))

    op.drop_table("venue_credential")
    with op.batch_alter_table("order_archive", schema=None) as batch_op:
        batch_op.drop_index("ix_order_bot_seq")
        batch_op.drop_index(batch_op.f("ix_order_archive_tenant_id"))

    op.drop_table("order_archive")
    with op.batch_alter_table("fill_archive", schema=None) as batch_op:
        batch_op.drop_index("ix_fill_bot_seq")
        batch_op.drop_index(batch_op.f("ix_fill_archive_tenant_id"))

    op.drop_table("fill_archive")
    with op.batch_alter_table("event_archive", schema=None) as batch_op:
        batch_op.drop_index("ix_event_bot_seq")
        batch_op.drop_index(batch_op.f("ix_event_archive_tenant_id"))

    op.drop_table("event_archive")
    with op.batch_alter_table("daily_stat", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_daily_stat_tenant_id"))

    op.drop_table("daily_stat")
    with op.batch_alter_table("config_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_config_version_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_config_version_bot_id"))

    op.drop_table("config_version")
    with op.batch_alter_table("bot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bot_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_bot_agent_id"))

    op.drop_table("bot")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_tenant_at")

    op.drop_table("audit_log")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_token_user_id"))
        batch_op.drop_index(batch_op.f("ix_api_token_tenant_id"))

    op.drop_table("api_token")
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_tenant_id"))

    op.drop_table("agent")
    with op.batch_alter_table("tls_material", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tls_material_tenant_id"))

    op.drop_table("tls_material")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_user_tenant_id"))

    op.drop_table("app_user")
    op.drop_table("tenant")
