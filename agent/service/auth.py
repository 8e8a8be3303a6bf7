"""The agent token: one random secret per agent, checked on every call but health checks.

The token lives in `<data-dir>/agent.token` (mode 0600), created on first start, so a local
operator (same user) can use `mmbot ctl` without setup while other users cannot. Comparison is
constant time (hmac.compare_digest) so response timing says nothing about a guessed prefix.
Refusals are logged with the peer and method, never with what was sent.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

from agent.credentials import write_private

log = logging.getLogger("mmbot.agent.auth")

HEALTH_PREFIX = "/grpc.health.v1.Health/"
MIN_TOKEN_CHARS = 16


class TokenError(Exception):
    """No usable token file; the message says which file and why."""


def read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise TokenError(f"no agent token at {path}") from None
    except OSError as exc:
        raise TokenError(f"cannot read the agent token {path}: {exc.strerror}") from None
    if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
        raise TokenError(f"{path} does not hold a valid agent token")
    return token


def load_or_create_token(path: Path) -> str:
    """Read the token; create it (0600) on first start. Warns when others can read it."""
    if not path.exists():
        try:
            write_private(path, (secrets.token_urlsafe(32) + "\n").encode(), exclusive=True)
            log.info("created agent token %s", path)
        except FileExistsError:
            pass
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("agent token %s is readable by others (mode %o); chmod 600 it", path, mode)
    return read_token(path)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """Call metadata for `token`."""
    return (("authorization", f"Bearer {token}"),)


def _metadata_value(metadata: Any, key: str) -> str:
    for k, v in metadata or ():
        if k == key:
            return v if isinstance(v, str) else v.decode("latin-1")
    return ""


class TokenAuthInterceptor(grpc.aio.ServerInterceptor):
    """Refuses (UNAUTHENTICATED) every call without `authorization: Bearer <token>`, except
    grpc.health.v1 so that load balancers and supervisors can probe without the secret."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    async def intercept_service(
        self,
        continuation: Callable[[Any], Awaitable[Any]],
        details: Any,
    ) -> Any:
        handler = await continuation(details)
        method: str = details.method
        if handler is None or method.startswith(HEALTH_PREFIX):
            return handler
        given = _metadata_value(details.invocation_metadata, "authorization").encode()
        if hmac.compare_digest(given, self._expected):
            return handler
        log.warning("refused %s: %s agent token", method, "wrong" if given else "missing")
        return _refusal(handler, "missing agent token" if not given else "wrong agent token")


def _refusal(handler: Any, reason: str) -> Any:
    """A handler of the same shape as `handler` that only answers UNAUTHENTICATED."""
    code = grpc.StatusCode.UNAUTHENTICATED
    msg = f"{reason}: send metadata 'authorization: Bearer <token>' (see <data-dir>/agent.token)"

    async def unary(request: Any, context: Any) -> Any:
        await context.abort(code, msg)

    async def streaming(request: Any, context: Any) -> Any:
        await context.abort(code, msg)
        yield  # pragma: no cover - makes this an async generator

    kw = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(streaming, **kw)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(unary, **kw)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(streaming, **kw)
    return grpc.unary_unary_rpc_method_handler(unary, **kw)
