"""The agent's gRPC server: where it may listen, how it is secured, what it serves.

Rules (decided in `plan_security`, before anything is bound or written):
- Loopback (127.0.0.0/8, ::1, localhost) may be plaintext: only local users reach it, and the
  token still guards every call.
- Anything else needs TLS, and by default mutual TLS: the client must present a certificate
  from the operator's CA (`--client-ca`), so a leaked token alone does not open the agent.
  `--no-mtls` accepts any TLS client that has the token.
- `--insecure` off loopback is refused (exit code 2), not downgraded.
Besides AgentService the server offers grpc.health.v1 (no token needed, for supervisors) and
server reflection (token needed, like every other call).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from agent.credentials import CredentialStore
from agent.host import AgentHost
from agent.proto.mmbot.agent.v1 import agent_pb2 as pb
from agent.proto.mmbot.agent.v1 import agent_pb2_grpc as pb_grpc
from agent.service.address import ListenAddress, UsageError, parse_listen
from agent.service.auth import TokenAuthInterceptor
from agent.service.paths import tls_dir
from agent.service.servicer import AgentServicer

log = logging.getLogger("mmbot.agent.server")

__all__ = [
    "AgentServer",
    "ListenAddress",
    "SecurityPlan",
    "UsageError",
    "parse_listen",
    "plan_security",
]

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AgentService"].full_name

SERVER_OPTIONS = [
    # A second agent on the same port must fail to bind, not silently share it.
    ("grpc.so_reuseport", 0),
    # Keep long event streams alive through NATs and notice dead peers.
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
]


@dataclass(frozen=True)
class SecurityPlan:
    """How the server listens: plaintext, TLS, or mutual TLS (with the PEM bytes loaded)."""

    cert_chain: bytes | None = None
    private_key: bytes | None = None
    client_ca: bytes | None = None

    @property
    def tls(self) -> bool:
        return self.cert_chain is not None

    @property
    def mtls(self) -> bool:
        return self.client_ca is not None

    def describe(self) -> str:
        return "mutual TLS" if self.mtls else "TLS" if self.tls else "plaintext"


def _read(path: Path, flag: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{flag}: cannot read {path}: {exc.strerror}") from None


def plan_security(
    listen: ListenAddress,
    *,
    data_dir: Path,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    client_ca: Path | None = None,
    insecure: bool = False,
    no_mtls: bool = False,
) -> SecurityPlan:
    """Decide TLS/mTLS for `listen` from the flags; refuse what the rules forbid."""
    given = tls_cert is not None or tls_key is not None or client_ca is not None
    if insecure and given:
        raise UsageError("--insecure contradicts --tls-cert/--tls-key/--client-ca")
    if insecure and not listen.loopback:
        raise UsageError(
            f"refusing to serve plaintext on {listen}: --insecure is allowed only on loopback; "
            "create certificates with `mmbot agent certs init --hosts HOST` and serve with TLS"
        )
    if no_mtls and client_ca is not None:
        raise UsageError("--no-mtls contradicts --client-ca")
    if insecure or (not given and listen.loopback):
        return SecurityPlan()
    if not given:
        d = tls_dir(data_dir)
        tls_cert, tls_key = d / "server.crt", d / "server.key"
        client_ca = None if no_mtls else d / "ca.crt"
        missing = [p for p in (tls_cert, tls_key, client_ca) if p is not None and not p.exists()]
        if missing:
            raise UsageError(
                f"{listen} is not loopback, so TLS is required: run `mmbot agent certs init "
                f"--hosts HOST` (creates {d}) or pass --tls-cert/--tls-key/--client-ca"
            )
    if tls_cert is None or tls_key is None:
        raise UsageError("--tls-cert and --tls-key go together")
    if client_ca is None and not no_mtls and not listen.loopback:
        raise UsageError(
            f"{listen} is not loopback: mutual TLS is the default there, pass --client-ca "
            "(the CA that issued your clients' certificates), or --no-mtls to accept any "
            "TLS client that has the token"
        )
    return SecurityPlan(
        cert_chain=_read(tls_cert, "--tls-cert"),
        private_key=_read(tls_key, "--tls-key"),
        client_ca=_read(client_ca, "--client-ca") if client_ca is not None else None,
    )


class AgentServer:
    """grpc.aio server on the host's loop: AgentService + health + reflection, token-guarded."""

    def __init__(
        self,
        host: AgentHost,
        credentials: CredentialStore,
        *,
        token: str,
        security: SecurityPlan,
        listen: ListenAddress,
    ) -> None:
        self.listen = listen
        self.security = security
        self.server = grpc.aio.server(
            interceptors=[TokenAuthInterceptor(token)], options=SERVER_OPTIONS
        )
        pb_grpc.add_AgentServiceServicer_to_server(AgentServicer(host, credentials), self.server)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            [SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )
        self.port = 0
        self.started = False

    def bind(self) -> int:
        """Bind the port (before any bot starts, so a taken port trades nothing); returns it."""
        target = str(self.listen)
        sec = self.security
        try:
            if sec.tls:
                creds = grpc.ssl_server_credentials(
                    [(sec.private_key, sec.cert_chain)],
                    root_certificates=sec.client_ca,
                    require_client_auth=sec.mtls,
                )
                port = self.server.add_secure_port(target, creds)
            else:
                port = self.server.add_insecure_port(target)
        except RuntimeError:
            port = 0
        if not port:
            raise OSError(f"cannot listen on {target}: address in use or not available")
        self.port = port
        return port

    async def start(self) -> int:
        """Serve (binding first if `bind` was not called); returns the port."""
        if not self.port:
            self.bind()
        await self.server.start()
        self.started = True
        for name in ("", SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "serving %s on %s:%d (%s)",
            SERVICE_NAME,
            self.listen.host,
            self.port,
            self.security.describe(),
        )
        return self.port

    async def stop(self, grace: float) -> None:
        """Health goes NOT_SERVING, new calls are refused, running calls get `grace` seconds."""
        if self.started:
            await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
