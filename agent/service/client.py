"""Client side of AgentService, for `mmbot ctl` and the control plane's agent links.

Kept free of the host and the bots, so a client imports only grpc and the generated stubs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from agent.proto.mmbot.agent.v1 import agent_pb2_grpc as pb_grpc
from agent.service.auth import bearer
from agent.service.errors import decode_config_errors


@dataclass(frozen=True)
class ClientTls:
    """PEM bytes: the CA that signed the agent's certificate, and our own cert/key for mTLS."""

    ca: bytes
    cert: bytes | None = None
    key: bytes | None = None
    server_name: str | None = None  # when the address is not in the server cert's SANs

    @classmethod
    def from_files(
        cls,
        ca: Path,
        cert: Path | None = None,
        key: Path | None = None,
        server_name: str | None = None,
    ) -> ClientTls:
        return cls(
            ca.read_bytes(),
            cert.read_bytes() if cert is not None else None,
            key.read_bytes() if key is not None else None,
            server_name,
        )

    def credentials(self) -> Any:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.key, certificate_chain=self.cert
        )

    def options(self) -> list[tuple[str, str]]:
        if self.server_name:
            return [("grpc.ssl_target_name_override", self.server_name)]
        return []


def channel(target: str, tls: ClientTls | None = None) -> Any:
    """A blocking channel (the CLI)."""
    if tls is None:
        return grpc.insecure_channel(target)
    return grpc.secure_channel(target, tls.credentials(), options=tls.options())


def aio_channel(target: str, tls: ClientTls | None = None) -> Any:
    """An asyncio channel (the control plane, tests)."""
    if tls is None:
        return grpc.aio.insecure_channel(target)
    return grpc.aio.secure_channel(target, tls.credentials(), options=tls.options())


def stub(ch: Any) -> Any:
    return pb_grpc.AgentServiceStub(ch)


def metadata(token: str) -> tuple[tuple[str, str], ...]:
    return bearer(token)


def field_errors(err: Any) -> list[str]:
    """The 'field: rule' lines of an INVALID_ARGUMENT RpcError (empty for other errors)."""
    try:
        trailing = err.trailing_metadata()
    except Exception:
        return []
    return decode_config_errors(trailing)
