"""What goes in and out of the service layer: the REST API's bodies and the console's data.

Inputs refuse what the database would choke on (NUL and other control characters, absurd
lengths) so bad input is a 422 with a field path, never a 500. Money leaves as strings
(pydantic serialises Decimal exactly), ids as integers.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HOSTPORT = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$")


def _no_control(v: str) -> str:
    if _CONTROL.search(v):
        raise ValueError("must not contain control characters")
    return v


def _single_line(v: str) -> str:
    if _CONTROL.search(v) or "\n" in v or "\r" in v or "\t" in v:
        raise ValueError("must be one line without control characters")
    return v


Text = Annotated[str, AfterValidator(_no_control)]
Line = Annotated[str, AfterValidator(_single_line)]
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Secret = Annotated[
    str, StringConstraints(min_length=1, max_length=1024), AfterValidator(_single_line)
]


def check_endpoint(v: str) -> str:
    m = _HOSTPORT.match(v)
    if not m or not 1 <= int(m.group(2)) <= 65535:
        raise ValueError("must be host:port, e.g. 10.0.0.5:50051 or agent.example.com:50051")
    return v


def is_loopback(endpoint: str) -> bool:
    host = endpoint.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


Endpoint = Annotated[str, StringConstraints(max_length=255), AfterValidator(check_endpoint)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------- auth and tokens
class LoginIn(_In):
    username: Annotated[Line, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[Line, StringConstraints(min_length=1, max_length=256)]


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: dt.datetime | None = None


class UserOut(BaseModel):
    id: int
    username: str
    role: str
    tenant_id: int
    tenant: str


class TokenCreate(_In):
    name: Annotated[Line, StringConstraints(min_length=1, max_length=100)]
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    id: int
    name: str
    kind: str
    display: str = Field(description="The start of the token, to tell tokens apart")
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The token itself. Shown once: store it now.")


# ---------------------------------------------------------------------- agents
class TlsIn(_In):
    ca_cert: Annotated[Text, StringConstraints(min_length=1, max_length=65536)] = Field(
        description="PEM of the CA that signed the agent's server certificate"
    )
    client_cert: Annotated[Text, StringConstraints(min_length=1, max_length=65536)]
    client_key: Annotated[Text, StringConstraints(min_length=1, max_length=65536)] = Field(
        description="PEM private key of the client certificate (write-only)"
    )
    server_name: Annotated[Line, StringConstraints(max_length=255)] | None = Field(
        default=None, description="Expected name in the agent's certificate, if not the host"
    )


class AgentCreate(_In):
    name: Name
    endpoint: Endpoint
    token: Annotated[Line, StringConstraints(min_length=16, max_length=512)] = Field(
        description="The agent's bearer token (<agent data dir>/agent.token); write-only"
    )
    tls: TlsIn | None = Field(
        default=None, description="mTLS client material; required unless the endpoint is loopback"
    )


class TlsInfo(BaseModel):
    ca_subject: str
    client_subject: str
    client_not_after: dt.datetime
    server_name: str | None


class AgentOut(BaseModel):
    id: int
    name: str
    endpoint: str
    online: bool
    last_seen_at: dt.datetime | None
    version: str
    archived_seq: int
    error: str
    tls: bool
    bots: int
    telegram_token_updated_at: dt.datetime | None = Field(
        default=None, description="When the agent's Telegram bot token was set (never the token)"
    )
    created_at: dt.datetime


# ---------------------------------------------------------------------- bots
class BotOut(BaseModel):
    id: int
    agent_id: int
    agent_name: str
    name: str
    venue: str
    symbol: str
    state: str
    online: bool
    applied_version: int | None
    agent_config_version: int
    has_credentials: bool
    credentials_updated_at: dt.datetime | None = Field(
        default=None, description="When the stored venue keys were set (never the keys)"
    )
    volume_24h_quote: Decimal | None = Field(
        default=None,
        description="Quote volume (price x amount) of the bot's archived fills in the last "
        "24 hours, rolling",
    )


class AgentDetail(AgentOut):
    tls_info: TlsInfo | None
    bot_list: list[BotOut]


class BotDetail(BotOut):
    last_seen_at: dt.datetime | None
    live: dict[str, Any] | None = Field(
        description="Live view: state, status, balances, risk, volume, ladder, open orders, "
        "recent fills and events. Null when the control plane has not reached the agent yet."
    )


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: int | None = Field(description="Pass as ?cursor= for the next (older) page")


class OrderOut(BaseModel):
    client_order_id: str
    venue_order_id: str
    side: str
    price: Decimal
    amount: Decimal
    filled: Decimal
    status: str
    post_only: bool
    tag: str
    created_at: float
    updated_at: float
    last_seq: int


class FillOut(BaseModel):
    trade_id: str
    client_order_id: str
    side: str
    price: Decimal
    amount: Decimal
    fee: Decimal
    fee_asset: str
    liquidity: str
    at: float
    seq: int


class EventOut(BaseModel):
    seq: int
    at: float
    kind: str
    severity: str
    bot: str
    data: dict[str, Any]


class DailyStatOut(BaseModel):
    day: dt.date
    volume_quote: Decimal
    fees_quote: Decimal
    fills: int
    pnl_quote: Decimal | None
    uptime_pct: Decimal | None


# ---------------------------------------------------------------------- configs
class ConfigIn(_In):
    config: dict[str, Any] = Field(
        description="The bot configuration: blocks bot, market_making, volume, risk, pricing, "
        "notifications (as in the YAML files)"
    )
    comment: Annotated[Text, StringConstraints(max_length=1000)] = ""
    expected_version: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="Refuse (409) unless this is the bot's applied version",
    )


class RollbackIn(_In):
    comment: Annotated[Text, StringConstraints(max_length=1000)] = ""


class ConfigVersionOut(BaseModel):
    version: int
    agent_version: int | None
    author: str
    comment: str
    source: str
    created_at: dt.datetime
    applied: bool


class ConfigVersionDetail(ConfigVersionOut):
    config: dict[str, Any]


class ConfigApplied(BaseModel):
    bot_id: int
    version: int
    agent_version: int
    config: dict[str, Any]


class ConfigPreview(BaseModel):
    valid: Literal[True] = True
    config: dict[str, Any] = Field(description="With every default filled in")
    preview: dict[str, Any] | None = Field(description="The ladder it would quote now")
    note: str = ""


class ConfigChange(BaseModel):
    path: str
    before: Any = Field(alias="from")
    after: Any = Field(alias="to")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class ConfigDiff(BaseModel):
    bot_id: int
    from_version: int
    to_version: int
    changes: list[ConfigChange]
    unified: str


# ---------------------------------------------------------------------- commands and credentials
class CommandOut(BaseModel):
    bot_id: int
    command: str
    state: str
    confirmed: bool
    message: str


class CredentialsIn(_In):
    api_key: Secret
    secret: Secret
    passphrase: Annotated[Line, StringConstraints(max_length=1024)] = ""
    extra: dict[
        Annotated[Line, StringConstraints(min_length=1, max_length=64)],
        Annotated[Line, StringConstraints(max_length=1024)],
    ] = Field(default_factory=dict, max_length=20)


class CredentialsOut(BaseModel):
    bot_id: int
    has_credentials: bool
    updated_at: dt.datetime | None
    pushed: bool = Field(description="Whether the agent has received them (or the delete)")


TELEGRAM_TOKEN_PATTERN = re.compile(r"^[0-9]{1,20}:[A-Za-z0-9_-]{20,200}$")


def _telegram_token(v: str) -> str:
    # The message never quotes the value: a refused token must not end up in a log either.
    if not TELEGRAM_TOKEN_PATTERN.match(v):
        raise ValueError("must look like <bot id>:<secret> as issued by @BotFather")
    return v


class TelegramTokenIn(_In):
    token: Annotated[str, StringConstraints(max_length=256), AfterValidator(_telegram_token)] = (
        Field(description="The bot token from @BotFather (write-only)")
    )


class TelegramTokenOut(BaseModel):
    agent_id: int
    has_token: bool
    updated_at: dt.datetime | None
    pushed: bool = Field(description="Whether the agent has received it (or the delete)")


# ---------------------------------------------------------------------- health and audit
class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]
    schema_version: str | None
    agents_online: int
    agents_total: int


class AuditOut(BaseModel):
    id: int
    at: dt.datetime
    actor: str
    action: str
    target: str
    outcome: str
    detail: dict[str, Any]
