"""What the control plane needs from an agent, independent of the wire.

Everything the links and the service layer do with an agent goes through `AgentConnection`,
so the transport (gRPC with mTLS today) is one module, and errors arrive as `AgentError` with
a code the service layer maps to HTTP statuses without knowing gRPC.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol


class AgentErrorCode(enum.StrEnum):
    NOT_FOUND = "not_found"  # unknown bot (or config version) on the agent
    REFUSED = "refused"  # not allowed in the bot's state; the message says why
    INVALID = "invalid"  # bad config or request; `field_errors` has 'field: rule' lines
    CONFLICT = "conflict"  # expected_version is not the agent's current version
    UNAVAILABLE = "unavailable"  # cannot reach the agent (or its venue)
    UNAUTHENTICATED = "unauthenticated"  # wrong agent token or client certificate
    INTERNAL = "internal"


class AgentError(Exception):
    def __init__(
        self, code: AgentErrorCode, message: str, field_errors: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field_errors = field_errors or []


@dataclass(frozen=True)
class TlsClientMaterial:
    ca_cert_pem: bytes
    client_cert_pem: bytes
    client_key_pem: bytes = field(repr=False)
    server_name: str | None = None


@dataclass(frozen=True)
class AgentTarget:
    """Where and how to reach one agent. Holds secrets: never log it (repr hides them)."""

    agent_id: int
    endpoint: str
    token: str = field(repr=False)
    tls: TlsClientMaterial | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RemoteBot:
    name: str
    venue: str
    symbol: str
    state: str
    config_version: int
    has_credentials: bool = False


@dataclass(frozen=True)
class RemoteInfo:
    version: str
    last_seq: int
    bots: list[RemoteBot]


@dataclass(frozen=True, slots=True)
class RemoteEvent:
    seq: int
    at: float
    kind: str
    bot: str
    severity: str
    data: dict[str, Any]
    # `data` as the JSON text it arrived in, when that is known to be exactly `data`: the
    # archive stores it as is instead of encoding the document again.
    data_json: str | None = None


@dataclass(frozen=True)
class CommandOutcome:
    bot: str
    command: str
    state: str
    confirmed: bool
    message: str


@dataclass(frozen=True)
class ValidateOutcome:
    config: dict[str, Any]
    current_version: int
    preview: dict[str, Any] | None


@dataclass(frozen=True)
class RemoteCredentials:
    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    passphrase: str = field(default="", repr=False)
    extra: dict[str, str] = field(default_factory=dict, repr=False)


class AgentConnection(Protocol):
    """One open connection to one agent. Methods raise AgentError."""

    async def info(self) -> RemoteInfo: ...

    async def status(self, bot: str) -> dict[str, Any]: ...

    async def open_orders(self, bot: str) -> list[dict[str, Any]]: ...

    def events(self, from_seq: int) -> AsyncIterator[list[RemoteEvent]]:
        """Every event after `from_seq`, in batches, without gap or duplicate, until the
        connection breaks (then AgentError UNAVAILABLE)."""
        ...

    async def get_config(self, bot: str, version: int = 0) -> tuple[int, dict[str, Any]]: ...

    async def validate_config(
        self, bot: str, config: dict[str, Any], expected_version: int | None
    ) -> ValidateOutcome: ...

    async def apply_config(
        self,
        bot: str,
        config: dict[str, Any],
        expected_version: int | None,
        author: str,
        comment: str,
    ) -> int: ...

    async def command(self, bot: str, command: str) -> CommandOutcome: ...

    async def set_credentials(self, bot: str, creds: RemoteCredentials) -> None: ...

    async def delete_credentials(self, bot: str) -> bool:
        """Whether the agent had credentials stored for the bot."""
        ...

    async def set_telegram_token(self, token: str) -> None: ...

    async def delete_telegram_token(self) -> bool:
        """Whether the agent had a token stored."""
        ...

    async def close(self) -> None: ...


class Connector(Protocol):
    def connect(self, target: AgentTarget) -> AgentConnection: ...


COMMANDS = ("start", "pause", "resume", "stop", "cancel-all", "kill")
