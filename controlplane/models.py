"""The control plane's tables (SQLModel). Every row that belongs to a customer carries
`tenant_id`, and every query in `controlplane.services` filters on it.

Money columns are `DecimalType` (exact on SQLite and PostgreSQL). Event times from agents are
the agent's epoch seconds (`at`, a double: the same value the agent journal holds, so archives
compare exactly); human-facing times are UTC datetimes. Archives are unique on what makes a
record itself — (agent, seq) for events, (bot, trade id) for fills, (bot, client order id) for
the order projection — so re-delivering anything is harmless.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from controlplane.db.types import DecimalType, JSONType, UTCDateTime, utcnow

# SQLite autoincrements only an INTEGER PRIMARY KEY; PostgreSQL archives need 64 bits.
BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

INT32_MAX = 2**31 - 1


class Role(enum.StrEnum):
    """What a user may do inside their tenant (checked in the service layer)."""

    ADMIN = "admin"  # everything: agents, credentials, tokens of others, audit log
    OPERATOR = "operator"  # steer bots: commands and configs
    VIEWER = "viewer"  # read only


class TokenKind(enum.StrEnum):
    API = "api"  # long-lived, named, for scripts
    SESSION = "session"  # short-lived, from a password login (console cookie or /auth/token)


class ConfigSource(enum.StrEnum):
    API = "api"
    ROLLBACK = "rollback"
    AGENT = "agent"  # imported: found on the agent (first contact or a change made there)


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kw)


class Tenant(SQLModel, table=True):
    __tablename__ = "tenant"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    created_at: dt.datetime = _ts()


class User(SQLModel, table=True):
    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    username: str = Field(max_length=64, unique=True)
    password_hash: str = Field(max_length=255, repr=False)
    role: str = Field(default=Role.ADMIN.value, max_length=16)
    disabled: bool = False
    created_at: dt.datetime = _ts()


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    name: str = Field(max_length=100)
    kind: str = Field(default=TokenKind.API.value, max_length=16)
    token_hash: str = Field(max_length=64, unique=True, repr=False)
    display: str = Field(max_length=32)
    created_at: dt.datetime = _ts()
    expires_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class TlsMaterial(SQLModel, table=True):
    """Client-side mTLS material for one agent link. The key is encrypted (write-only)."""

    __tablename__ = "tls_material"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    ca_cert_pem: str = Field(sa_type=sa.Text)
    client_cert_pem: str = Field(sa_type=sa.Text)
    client_key_enc: str = Field(sa_type=sa.Text, repr=False)
    server_name: str | None = Field(default=None, max_length=255)
    created_at: dt.datetime = _ts()


class Agent(SQLModel, table=True):
    __tablename__ = "agent"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name", name="uq_agent_tenant_name"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    name: str = Field(max_length=64)
    endpoint: str = Field(max_length=255)
    token_enc: str = Field(sa_type=sa.Text, repr=False)
    tls_id: int | None = Field(default=None, foreign_key="tls_material.id")
    created_at: dt.datetime = _ts()
    last_seen_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    agent_version: str = Field(default="", max_length=64)
    # The highest event seq of this agent that is archived: the link resumes after it.
    archived_seq: int = Field(default=0, sa_type=sa.BigInteger)
    last_error: str = Field(default="", sa_type=sa.Text)


class Bot(SQLModel, table=True):
    __tablename__ = "bot"
    __table_args__ = (sa.UniqueConstraint("agent_id", "name", name="uq_bot_agent_name"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    agent_id: int = Field(foreign_key="agent.id", index=True)
    name: str = Field(max_length=64)
    venue: str = Field(default="", max_length=64)
    symbol: str = Field(default="", max_length=64)
    state: str = Field(default="", max_length=32)
    # Our version number of the config that is live on the agent, and the agent's own number.
    applied_version: int | None = None
    agent_config_version: int = 0
    created_at: dt.datetime = _ts()
    updated_at: dt.datetime = _ts()


class ConfigVersion(SQLModel, table=True):
    """Immutable: rows are only ever inserted. A rollback is a new version."""

    __tablename__ = "config_version"
    __table_args__ = (
        sa.UniqueConstraint("bot_id", "version", name="uq_config_bot_version"),
        sa.UniqueConstraint("bot_id", "agent_version", name="uq_config_bot_agent_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    bot_id: int = Field(foreign_key="bot.id", index=True)
    version: int
    agent_version: int | None = None
    config: dict[str, Any] = Field(sa_type=JSONType)
    author: str = Field(max_length=100)
    comment: str = Field(default="", sa_type=sa.Text)
    source: str = Field(default=ConfigSource.API.value, max_length=16)
    created_at: dt.datetime = _ts()


class VenueCredential(SQLModel, table=True):
    """Write-only: no service function returns `ciphertext` or what it decrypts to, except
    the link that forwards it to the bot's own agent."""

    __tablename__ = "venue_credential"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    bot_id: int = Field(foreign_key="bot.id", unique=True)
    ciphertext: str = Field(sa_type=sa.Text, repr=False)
    updated_by: str = Field(max_length=100)
    updated_at: dt.datetime = _ts()
    pushed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set when deleted: the row stays (with no ciphertext) until the agent has deleted its
    # copy too, so a delete made while the agent is offline reaches it when it reconnects.
    deleted_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class TelegramToken(SQLModel, table=True):
    """An agent's Telegram bot token (one notifier per agent). Write-only like venue
    credentials, with the same pending push and pending delete."""

    __tablename__ = "telegram_token"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    agent_id: int = Field(foreign_key="agent.id", unique=True)
    ciphertext: str = Field(sa_type=sa.Text, repr=False)
    updated_by: str = Field(max_length=100)
    updated_at: dt.datetime = _ts()
    pushed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    deleted_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class EventRecord(SQLModel, table=True):
    __tablename__ = "event_archive"
    __table_args__ = (
        sa.UniqueConstraint("agent_id", "seq", name="uq_event_agent_seq"),
        sa.Index("ix_event_bot_seq", "bot_id", "seq"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    agent_id: int = Field(foreign_key="agent.id")
    seq: int = Field(sa_type=sa.BigInteger)
    bot_id: int | None = Field(default=None, foreign_key="bot.id")
    bot_name: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    severity: str = Field(max_length=16)
    at: float
    data: dict[str, Any] = Field(sa_type=JSONType)


class OrderRecord(SQLModel, table=True):
    """The latest known state of each order (a projection of the order events)."""

    __tablename__ = "order_archive"
    __table_args__ = (
        sa.UniqueConstraint("bot_id", "client_order_id", name="uq_order_bot_coid"),
        sa.Index("ix_order_bot_seq", "bot_id", "last_seq"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    agent_id: int = Field(foreign_key="agent.id")
    bot_id: int = Field(foreign_key="bot.id")
    client_order_id: str = Field(max_length=64)
    venue_order_id: str = Field(default="", max_length=128)
    side: str = Field(max_length=8)
    price: Decimal = Field(sa_type=DecimalType)
    amount: Decimal = Field(sa_type=DecimalType)
    filled: Decimal = Field(sa_type=DecimalType)
    status: str = Field(max_length=32)
    post_only: bool = False
    tag: str = Field(default="", max_length=32)
    created_at: float
    updated_at: float
    last_seq: int = Field(sa_type=sa.BigInteger)


class FillRecord(SQLModel, table=True):
    __tablename__ = "fill_archive"
    __table_args__ = (
        sa.UniqueConstraint("bot_id", "trade_id", name="uq_fill_bot_trade"),
        sa.Index("ix_fill_bot_seq", "bot_id", "seq"),
        # The tenant's fills by time (rolling 24 h volume); also serves tenant_id alone.
        sa.Index("ix_fill_tenant_at", "tenant_id", "at"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    agent_id: int = Field(foreign_key="agent.id")
    bot_id: int = Field(foreign_key="bot.id")
    trade_id: str = Field(max_length=128)
    client_order_id: str = Field(max_length=64)
    side: str = Field(max_length=8)
    price: Decimal = Field(sa_type=DecimalType)
    amount: Decimal = Field(sa_type=DecimalType)
    fee: Decimal = Field(sa_type=DecimalType)
    fee_asset: str = Field(max_length=32)
    liquidity: str = Field(max_length=16)
    at: float
    seq: int = Field(sa_type=sa.BigInteger)


class DailyStat(SQLModel, table=True):
    """Per bot and UTC day, folded from archived events exactly once (new events only).

    Uptime is the share of observed time the bot spent RUNNING, from the times between its
    consecutive events; PnL is the change of the bot's reported PnL over the day."""

    __tablename__ = "daily_stat"
    __table_args__ = (sa.UniqueConstraint("bot_id", "day", name="uq_daily_bot_day"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    bot_id: int = Field(foreign_key="bot.id")
    day: dt.date
    volume_quote: Decimal = Field(default=Decimal(0), sa_type=DecimalType)
    fees_quote: Decimal = Field(default=Decimal(0), sa_type=DecimalType)
    fills: int = 0
    pnl_open_quote: Decimal | None = Field(default=None, sa_type=DecimalType)
    pnl_close_quote: Decimal | None = Field(default=None, sa_type=DecimalType)
    running_seconds: float = 0.0
    observed_seconds: float = 0.0
    last_at: float | None = None
    last_state: str = Field(default="", max_length=32)


class AuditEntry(SQLModel, table=True):
    """Who did what to which target, and how it ended. Never holds a secret."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_tenant_at", "tenant_id", "id"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    actor: str = Field(max_length=100)
    action: str = Field(max_length=64)
    target: str = Field(default="", max_length=128)
    outcome: str = Field(max_length=16)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    at: dt.datetime = _ts()


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table of a model, for bulk statements (typed for mypy)."""
    t: sa.Table = model.__table__  # type: ignore[attr-defined]
    return t
