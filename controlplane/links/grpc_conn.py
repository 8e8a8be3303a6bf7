"""`AgentConnection` over the agent's gRPC API (`mmbot.agent.v1.AgentService`).

One channel per agent, with its own subchannel pool so every agent has its own TCP
connection (as it will when each agent is a VPS) and cutting one never disturbs another.
Off loopback the channel is mutual TLS with the client certificate registered for the agent;
every call carries the agent's bearer token. gRPC status codes become `AgentError` codes here
and nowhere else.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import grpc

from agent.proto.mmbot.agent.v1 import agent_pb2 as pb
from agent.proto.mmbot.agent.v1 import agent_pb2_grpc as pb_grpc
from agent.service.convert import order_doc
from agent.service.errors import decode_config_errors
from controlplane.links.base import (
    AgentError,
    AgentErrorCode,
    AgentTarget,
    CommandOutcome,
    RemoteBot,
    RemoteCredentials,
    RemoteEvent,
    RemoteInfo,
    ValidateOutcome,
)

_CODES = {
    grpc.StatusCode.NOT_FOUND: AgentErrorCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION: AgentErrorCode.REFUSED,
    grpc.StatusCode.INVALID_ARGUMENT: AgentErrorCode.INVALID,
    grpc.StatusCode.OUT_OF_RANGE: AgentErrorCode.INVALID,
    grpc.StatusCode.ABORTED: AgentErrorCode.CONFLICT,
    grpc.StatusCode.UNAVAILABLE: AgentErrorCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: AgentErrorCode.UNAVAILABLE,
    grpc.StatusCode.CANCELLED: AgentErrorCode.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED: AgentErrorCode.UNAVAILABLE,
    grpc.StatusCode.UNAUTHENTICATED: AgentErrorCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED: AgentErrorCode.UNAUTHENTICATED,
}

_COMMAND_RPC = {
    "start": "Start",
    "pause": "Pause",
    "resume": "Resume",
    "stop": "Stop",
    "cancel-all": "CancelAll",
    "kill": "Kill",
}

MAX_MESSAGE_BYTES = 32 * 1024 * 1024


def _error(exc: grpc.aio.AioRpcError) -> AgentError:
    code = _CODES.get(exc.code(), AgentErrorCode.INTERNAL)
    details = exc.details() or exc.code().name
    fields: list[str] = []
    if code is AgentErrorCode.INVALID:
        fields = decode_config_errors(exc.trailing_metadata())
    return AgentError(code, details, fields)


def channel_options() -> list[tuple[str, Any]]:
    # Keepalive pings notice a silently dead agent (partition, powered-off VPS) even when no
    # call is due; the agent's server accepts pings every 10 s or more.
    return [
        ("grpc.use_local_subchannel_pool", 1),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.initial_reconnect_backoff_ms", 500),
        ("grpc.max_reconnect_backoff_ms", 5000),
    ]


def open_channel(target: AgentTarget) -> grpc.aio.Channel:
    opts = channel_options()
    if target.tls is None:
        return grpc.aio.insecure_channel(target.endpoint, options=opts)
    creds = grpc.ssl_channel_credentials(
        root_certificates=target.tls.ca_cert_pem,
        private_key=target.tls.client_key_pem,
        certificate_chain=target.tls.client_cert_pem,
    )
    if target.tls.server_name:
        opts.append(("grpc.ssl_target_name_override", target.tls.server_name))
    return grpc.aio.secure_channel(target.endpoint, creds, options=opts)


def _preview(p: pb.LadderPreview) -> dict[str, Any]:
    def quotes(rows: Any) -> list[dict[str, Any]]:
        return [{"price": q.price, "amount": q.amount, "level": q.level} for q in rows]

    return {
        "mid": p.mid or None,
        "spread_pct": p.spread_pct or None,
        "bids": quotes(p.bids),
        "asks": quotes(p.asks),
        "budget_used_quote": p.budget_used_quote or None,
        "budget_used_base": p.budget_used_base or None,
        "dropped": [{"side": d.side, "level": d.level, "reason": d.reason} for d in p.dropped],
    }


def _clean(value: Any) -> Any:
    """NUL characters replaced: PostgreSQL text and jsonb refuse them, and one such event
    must never block the archive (the agent's journal keeps the original)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _event(e: pb.Event) -> RemoteEvent:
    text = e.data_json or "{}"
    data = json.loads(text)
    raw: str | None = text
    if "\\u0000" in text:  # rare: only then walk the document
        data, raw = _clean(data), None
    if not isinstance(data, dict):
        data, raw = {"value": data}, None
    bot, kind, sev = e.bot, e.kind, e.severity
    if "\x00" in bot + kind + sev:
        bot, kind, sev = _clean(bot), _clean(kind), _clean(sev)
    return RemoteEvent(e.seq, e.at, kind, bot, sev, data, raw)


class GrpcAgentConnection:
    def __init__(self, target: AgentTarget, rpc_timeout: float = 10.0) -> None:
        self._target = target
        self._channel = open_channel(target)
        self._stub = pb_grpc.AgentServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {target.token}"),)
        self._timeout = rpc_timeout

    async def _call(self, method: str, request: Any) -> Any:
        fn = getattr(self._stub, method)
        try:
            return await fn(request, metadata=self._metadata, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise _error(exc) from None

    async def info(self) -> RemoteInfo:
        r = await self._call("GetInfo", pb.GetInfoRequest())
        return RemoteInfo(
            version=r.agent_version,
            last_seq=r.last_seq,
            bots=[
                RemoteBot(b.name, b.venue, b.symbol, b.state, b.config_version, b.has_credentials)
                for b in r.bots
            ],
        )

    async def status(self, bot: str) -> dict[str, Any]:
        r = await self._call("GetStatus", pb.GetStatusRequest(bot=bot))
        if r.status_json:
            doc: dict[str, Any] = json.loads(r.status_json)
            doc.setdefault("config_version", r.config_version)
            return doc
        return {"name": r.bot, "state": r.state, "state_reason": r.state_reason}

    async def open_orders(self, bot: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        token = ""
        while True:
            r = await self._call(
                "ListOrders",
                pb.ListOrdersRequest(bot=bot, open_only=True, page_size=1000, page_token=token),
            )
            out.extend(order_doc(o) for o in r.orders)
            token = r.next_page_token
            if not token:
                return out

    async def events(self, from_seq: int) -> AsyncIterator[list[RemoteEvent]]:
        call = self._stub.StreamEvents(
            pb.StreamEventsRequest(from_seq=from_seq), metadata=self._metadata
        )
        try:
            async for batch in call:
                yield [_event(e) for e in batch.events]
        except grpc.aio.AioRpcError as exc:
            raise _error(exc) from None
        finally:
            call.cancel()
        raise AgentError(AgentErrorCode.UNAVAILABLE, "the agent ended the event stream")

    async def get_config(self, bot: str, version: int = 0) -> tuple[int, dict[str, Any]]:
        r = await self._call("GetConfig", pb.GetConfigRequest(bot=bot, version=version))
        return r.version, json.loads(r.config_json)

    async def validate_config(
        self, bot: str, config: dict[str, Any], expected_version: int | None
    ) -> ValidateOutcome:
        req = pb.ValidateConfigRequest(bot=bot, config_text=json.dumps(config))
        if expected_version is not None:
            req.expected_version = expected_version
        r = await self._call("ValidateConfig", req)
        preview = _preview(r.preview) if r.HasField("preview") else None
        return ValidateOutcome(json.loads(r.config_json), r.current_version, preview)

    async def apply_config(
        self,
        bot: str,
        config: dict[str, Any],
        expected_version: int | None,
        author: str,
        comment: str,
    ) -> int:
        req = pb.ApplyConfigRequest(
            bot=bot, config_text=json.dumps(config), author=author, comment=comment
        )
        if expected_version is not None:
            req.expected_version = expected_version
        r = await self._call("ApplyConfig", req)
        return int(r.version)

    async def command(self, bot: str, command: str) -> CommandOutcome:
        method = _COMMAND_RPC.get(command)
        if method is None:
            raise AgentError(AgentErrorCode.INVALID, f"unknown command {command!r}")
        r = await self._call(method, pb.BotCommandRequest(bot=bot))
        return CommandOutcome(r.bot, r.command or command, r.state, r.confirmed, r.message)

    async def set_credentials(self, bot: str, creds: RemoteCredentials) -> None:
        await self._call(
            "SetCredentials",
            pb.SetCredentialsRequest(
                bot=bot,
                credentials=pb.VenueCredentials(
                    api_key=creds.api_key,
                    secret=creds.secret,
                    passphrase=creds.passphrase,
                    extra=dict(creds.extra),
                ),
            ),
        )

    async def delete_credentials(self, bot: str) -> bool:
        r = await self._call("DeleteCredentials", pb.DeleteCredentialsRequest(bot=bot))
        return bool(r.existed)

    async def set_telegram_token(self, token: str) -> None:
        await self._call("SetTelegramToken", pb.SetTelegramTokenRequest(token=token))

    async def delete_telegram_token(self) -> bool:
        r = await self._call("DeleteTelegramToken", pb.DeleteTelegramTokenRequest())
        return bool(r.existed)

    async def close(self) -> None:
        await self._channel.close(grace=None)


class GrpcConnector:
    """The production `Connector`."""

    def __init__(self, rpc_timeout: float = 10.0) -> None:
        self.rpc_timeout = rpc_timeout

    def connect(self, target: AgentTarget) -> GrpcAgentConnection:
        return GrpcAgentConnection(target, self.rpc_timeout)
