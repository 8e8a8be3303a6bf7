"""The RPCs of `mmbot.agent.v1.AgentService`: each one a thin translation onto AgentHost.

The host is the one command layer (gRPC, Telegram and the console all go through it), so no
business rule lives here: only parsing requests, mapping exceptions to status codes and
building responses. Runs on the host's own asyncio loop, so there are no threads to reason about.
Request and response bodies are never logged: SetCredentials carries secrets.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
import yaml

from agent import __version__
from agent.config import NAME_RE, ConfigError
from agent.credentials import CredentialsError, CredentialStore, VenueCredentials
from agent.events import Event, EventKind, Severity
from agent.host import AgentHost, UnknownBot, VersionConflict
from agent.lifecycle import InvalidCommand
from agent.proto.mmbot.agent.v1 import agent_pb2 as pb
from agent.proto.mmbot.agent.v1 import agent_pb2_grpc as pb_grpc
from agent.service import convert, paging
from agent.service.errors import (
    RequestError,
    config_errors_message,
    config_errors_trailer,
)
from agent.venues.base import VenueError

log = logging.getLogger("mmbot.agent.rpc")

R = TypeVar("R")
Handler = Callable[[Any, Any, Any], Awaitable[R]]

STREAM_BATCH = 500
# A Bot API token as @BotFather issues it: the bot's numeric id, ':', then the secret part.
TELEGRAM_TOKEN_RE = re.compile(r"^[0-9]+:[A-Za-z0-9_-]+$")
NO_TELEGRAM_TOKEN = "no Telegram bot token: mmbot ctl telegram-token or MMBOT_TELEGRAM_BOT_TOKEN"
EVENT_CACHE_SIZE = 20_000


class EventCache:
    """The same live event goes to every subscriber: convert it once (JSON + message, ~17 us),
    not once per subscriber. Keyed by seq, which names one immutable journal entry."""

    def __init__(self, size: int = EVENT_CACHE_SIZE) -> None:
        self._size = size
        self._msgs: OrderedDict[int, pb.Event] = OrderedDict()

    def get(self, ev: Event) -> pb.Event:
        msg = self._msgs.get(ev.seq)
        if msg is None:
            msg = self._msgs[ev.seq] = convert.event(ev)
            if len(self._msgs) > self._size:
                self._msgs.popitem(last=False)
        return msg


async def _abort_for(exc: Exception, context: Any) -> None:
    """Translate a host exception into a gRPC status (see agent.service.errors)."""
    if isinstance(exc, UnknownBot):
        await context.abort(grpc.StatusCode.NOT_FOUND, str(exc).strip("'\""))
    if isinstance(exc, InvalidCommand):
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
    if isinstance(exc, ConfigError):
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            config_errors_message(exc.errors),
            trailing_metadata=config_errors_trailer(exc.errors),
        )
    if isinstance(exc, VersionConflict):
        await context.abort(grpc.StatusCode.ABORTED, str(exc))
    if isinstance(exc, VenueError):
        await context.abort(grpc.StatusCode.UNAVAILABLE, f"venue: {exc}")
    if isinstance(exc, CredentialsError):
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
    log.exception("internal error")
    await context.abort(grpc.StatusCode.INTERNAL, "internal error (see the agent log)")


_MAPPED = (UnknownBot, InvalidCommand, ConfigError, VersionConflict, VenueError, CredentialsError)


def rpc(fn: Handler[R]) -> Callable[[Any, Any, Any], Awaitable[R]]:
    """Maps host exceptions to status codes and logs each call's method, code and duration."""

    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: Any) -> R:
        t0 = time.perf_counter()
        code = "OK"
        try:
            return await fn(self, request, context)
        except _MAPPED as exc:
            code = type(exc).__name__
            await _abort_for(exc, context)
            raise  # unreachable: abort raises
        except Exception as exc:
            if isinstance(exc, grpc.aio.AbortError):
                code = "aborted"
                raise
            code = "INTERNAL"
            await _abort_for(exc, context)
            raise
        finally:
            log.debug("%s %s %.1f ms", fn.__name__, code, (time.perf_counter() - t0) * 1e3)

    return wrapper


def _kinds(values: list[str], field: str) -> list[str]:
    known = {k.value for k in EventKind}
    bad = [v for v in values if v not in known]
    if bad:
        raise RequestError([f"{field}: unknown kind {bad[0]!r}; one of {', '.join(sorted(known))}"])
    return list(values)


def _severity(value: str, field: str) -> Severity | None:
    if not value:
        return None
    try:
        return Severity(value)
    except ValueError:
        allowed = ", ".join(s.value for s in Severity)
        raise RequestError([f"{field}: unknown severity {value!r}; one of {allowed}"]) from None


def _parse_config_text(text: str) -> Any:
    """YAML or JSON text (JSON is YAML) -> data for the host; syntax errors as field errors."""
    if not text.strip():
        raise ConfigError(["config_text: is required (YAML or JSON)"])
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"(yaml): {exc}".replace("\n", " ")]) from None


class AgentServicer(pb_grpc.AgentServiceServicer):
    def __init__(self, host: AgentHost, credentials: CredentialStore) -> None:
        self.host = host
        self.credentials = credentials
        self.event_cache = EventCache()

    # ------------------------------------------------------------------ info and status
    @rpc
    async def GetInfo(self, request: pb.GetInfoRequest, context: Any) -> pb.GetInfoResponse:
        info = self.host.info()
        return pb.GetInfoResponse(
            agent_version=info.get("version", __version__),
            last_seq=info["last_seq"],
            bots=[
                convert.bot_summary(
                    b, info["capabilities"].get(b["name"], {}), self.credentials.has(b["name"])
                )
                for b in info["bots"]
            ],
            has_telegram_token=self.credentials.has_telegram_token(),
        )

    @rpc
    async def GetStatus(self, request: pb.GetStatusRequest, context: Any) -> pb.GetStatusResponse:
        return convert.status(self.host.status(request.bot or None))

    # ------------------------------------------------------------------ configuration
    @rpc
    async def GetConfig(self, request: pb.GetConfigRequest, context: Any) -> pb.GetConfigResponse:
        h = self.host.handle(request.bot or None)
        if request.version < 0:
            raise RequestError(["version: must be >= 0"])
        if request.version in (0, h.version):
            data: Any = h.bot.config.dump()
            version = h.version
        else:
            data = self.host.journal.config_version(h.bot.name, request.version)
            if data is None:
                raise UnknownBot(f"{h.bot.name} has no config version {request.version}")
            version = request.version
        return pb.GetConfigResponse(
            bot=h.bot.name, version=version, config_json=convert.to_json(data)
        )

    def _check_version(self, name: str, expected: int | None) -> int:
        """The bot's current version (0 if unknown); VersionConflict when it is not `expected`."""
        h = self.host.bots.get(name)
        current = h.version if h is not None else 0
        if expected is not None and expected != current:
            raise VersionConflict(f"config of {name} is at version {current}, not {expected}")
        return current

    @rpc
    async def ValidateConfig(
        self, request: pb.ValidateConfigRequest, context: Any
    ) -> pb.ValidateConfigResponse:
        data = _parse_config_text(request.config_text)
        if request.bot:
            self.host.handle(request.bot)  # an unknown bot named explicitly is NOT_FOUND
        cfg, preview = self.host.validate(request.bot or None, data)
        name = request.bot or cfg.bot.name
        expected = request.expected_version if request.HasField("expected_version") else None
        current = self._check_version(name, expected)
        out = pb.ValidateConfigResponse(
            bot=name, config_json=convert.to_json(cfg.dump()), current_version=current
        )
        if preview is not None:
            out.preview.CopyFrom(convert.preview(preview))
        return out

    @rpc
    async def ApplyConfig(
        self, request: pb.ApplyConfigRequest, context: Any
    ) -> pb.ApplyConfigResponse:
        data = _parse_config_text(request.config_text)
        expected = request.expected_version if request.HasField("expected_version") else None
        version = await self.host.apply_config(
            request.bot or None,
            data,
            expected_version=expected,
            author=request.author or "grpc",
            comment=request.comment,
        )
        # The host applied it to `bot`, else to the bot the config names (valid by now).
        name = request.bot or str(data["bot"]["name"])
        log.info("config of %s is now version %d", name, version)
        return pb.ApplyConfigResponse(bot=name, version=version)

    # ------------------------------------------------------------------ commands
    async def _command(self, request: pb.BotCommandRequest, command: str) -> pb.BotCommandResponse:
        res = await self.host.command(request.bot or None, command)
        log.info(
            "%s %s -> %s%s", command, res.bot, res.state.value, "" if res.ok else " (unconfirmed)"
        )
        return pb.BotCommandResponse(
            bot=res.bot,
            command=res.command,
            state=res.state.value,
            confirmed=res.ok,
            message=res.message,
        )

    @rpc
    async def Start(self, request: pb.BotCommandRequest, context: Any) -> pb.BotCommandResponse:
        return await self._command(request, "start")

    @rpc
    async def Pause(self, request: pb.BotCommandRequest, context: Any) -> pb.BotCommandResponse:
        return await self._command(request, "pause")

    @rpc
    async def Resume(self, request: pb.BotCommandRequest, context: Any) -> pb.BotCommandResponse:
        return await self._command(request, "resume")

    @rpc
    async def Stop(self, request: pb.BotCommandRequest, context: Any) -> pb.BotCommandResponse:
        return await self._command(request, "stop")

    @rpc
    async def CancelAll(self, request: pb.BotCommandRequest, context: Any) -> pb.BotCommandResponse:
        return await self._command(request, "cancel-all")

    @rpc
    async def Kill(self, request: pb.BotCommandRequest, context: Any) -> pb.BotCommandResponse:
        return await self._command(request, "kill")

    # ------------------------------------------------------------------ journal listings
    @rpc
    async def ListOrders(
        self, request: pb.ListOrdersRequest, context: Any
    ) -> pb.ListOrdersResponse:
        name = self.host.handle(request.bot or None).bot.name
        size = paging.page_size(request.page_size)
        query = paging.fingerprint("orders", name, request.open_only)
        cur = paging.decode(query, request.page_token)
        anchor = self.host.clock.now() if cur.first else cur.anchor
        journal = self.host.journal
        rows, more = paging.anchored_page(
            lambda limit, offset: journal.orders(
                name, open_only=request.open_only, limit=limit, offset=offset
            ),
            lambda o: o.created_at > anchor,
            cur,
            size,
        )
        token = ""
        if more:
            token = paging.encode(query, paging.Cursor(cur.offset + len(rows), anchor))
        return pb.ListOrdersResponse(orders=[convert.order(o) for o in rows], next_page_token=token)

    @rpc
    async def ListFills(self, request: pb.ListFillsRequest, context: Any) -> pb.ListFillsResponse:
        name = self.host.handle(request.bot or None).bot.name
        size = paging.page_size(request.page_size)
        query = paging.fingerprint("fills", name)
        cur = paging.decode(query, request.page_token)
        journal = self.host.journal
        anchor = cur.anchor
        rows, more = paging.anchored_page(
            lambda limit, offset: journal.fills(name, limit=limit, offset=offset),
            lambda f: f["seq"] > anchor,
            cur,
            size,
        )
        if cur.first and rows:
            anchor = rows[0]["seq"]
        token = ""
        if more:
            token = paging.encode(query, paging.Cursor(cur.offset + len(rows), anchor))
        return pb.ListFillsResponse(fills=[convert.fill(f) for f in rows], next_page_token=token)

    @rpc
    async def ListEvents(
        self, request: pb.ListEventsRequest, context: Any
    ) -> pb.ListEventsResponse:
        kinds = _kinds(list(request.kinds), "kinds")
        severity = _severity(request.min_severity, "min_severity")
        if request.after_seq < 0:
            raise RequestError(["after_seq: must be >= 0"])
        size = paging.page_size(request.page_size)
        query = paging.fingerprint(
            "events",
            request.bot,
            sorted(kinds),
            request.min_severity,
            request.after_seq,
            request.newest_first,
        )
        cur = paging.decode(query, request.page_token)
        after = request.after_seq
        before = None
        if not cur.first:
            if request.newest_first:
                before = cur.seq
            else:
                after = cur.seq
        rows = self.host.journal.events(
            after,
            size + 1,
            bot=request.bot or None,
            kinds=kinds or None,
            min_severity=severity,
            before_seq=before,
            descending=request.newest_first,
        )
        page, more = rows[:size], len(rows) > size
        token = paging.encode(query, paging.Cursor(seq=page[-1].seq)) if more else ""
        return pb.ListEventsResponse(events=[convert.event(e) for e in page], next_page_token=token)

    async def StreamEvents(
        self, request: pb.StreamEventsRequest, context: Any
    ) -> AsyncIterator[pb.EventBatch]:
        """Journal replay then live via the host (no gap, no duplicate), filtered here."""
        try:
            kinds = set(_kinds(list(request.kinds), "kinds"))
            severity = _severity(request.min_severity, "min_severity")
            if request.from_seq < 0:
                raise RequestError(["from_seq: must be >= 0"])
        except RequestError as exc:
            await _abort_for(exc, context)
            return
        allowed = None
        if severity is not None:
            order = list(Severity)
            allowed = {s for s in order if order.index(s) >= order.index(severity)}
        bot = request.bot
        filtered = bool(kinds or allowed or bot)
        log.debug("stream from seq %d", request.from_seq)
        async for batch in self.host.events(request.from_seq, STREAM_BATCH):
            if filtered:
                events = [
                    e
                    for e in batch
                    if (not bot or e.bot == bot)
                    and (not kinds or e.kind.value in kinds)
                    and (allowed is None or e.severity in allowed)
                ]
                if not events:
                    continue
            else:
                events = batch
            cached = self.event_cache.get
            yield pb.EventBatch(events=[cached(e) for e in events], last_seq=batch[-1].seq)

    # ------------------------------------------------------------------ credentials
    @rpc
    async def SetCredentials(
        self, request: pb.SetCredentialsRequest, context: Any
    ) -> pb.SetCredentialsResponse:
        name = request.bot or self.host.handle(None).bot.name
        c = request.credentials
        creds = VenueCredentials(c.api_key, c.secret, c.passphrase, dict(c.extra))
        errors = creds.errors()
        if not request.HasField("credentials"):
            errors = ["credentials: is required"]
        if not NAME_RE.match(name):
            errors.insert(0, "bot: must be 1-40 chars of a-z, 0-9, '-', '_'")
        if errors:
            raise RequestError(errors)
        at = self.credentials.set(name, creds, now=self.host.clock.now())
        log.info("stored venue credentials for %s", name)
        return pb.SetCredentialsResponse(bot=name, updated_at=at)

    @rpc
    async def SetTelegramToken(
        self, request: pb.SetTelegramTokenRequest, context: Any
    ) -> pb.SetTelegramTokenResponse:
        # The rules never quote the token: a refused one must not end up in a log either.
        token = request.token
        if not token:
            raise RequestError(["token: is required"])
        if any(c.isspace() for c in token):
            raise RequestError(["token: must not contain whitespace"])
        if not TELEGRAM_TOKEN_RE.match(token):
            raise RequestError(
                ["token: must look like <bot id>:<secret> (digits, ':', letters/digits/-/_)"]
            )
        at = self.credentials.set_telegram_token(token, now=self.host.clock.now())
        log.info("stored the Telegram bot token")
        return pb.SetTelegramTokenResponse(updated_at=at)

    @rpc
    async def DeleteCredentials(
        self, request: pb.DeleteCredentialsRequest, context: Any
    ) -> pb.DeleteCredentialsResponse:
        name = request.bot or self.host.handle(None).bot.name
        if not NAME_RE.match(name):
            raise RequestError(["bot: must be 1-40 chars of a-z, 0-9, '-', '_'"])
        existed = self.credentials.delete(name)
        log.info("deleted the venue credentials of %s (existed: %s)", name, existed)
        return pb.DeleteCredentialsResponse(bot=name, existed=existed)

    @rpc
    async def DeleteTelegramToken(
        self, request: pb.DeleteTelegramTokenRequest, context: Any
    ) -> pb.DeleteTelegramTokenResponse:
        existed = self.credentials.delete_telegram_token()
        log.info("deleted the Telegram bot token (existed: %s)", existed)
        return pb.DeleteTelegramTokenResponse(existed=existed)

    # ------------------------------------------------------------------ notifications
    @rpc
    async def NotifyTest(
        self, request: pb.NotifyTestRequest, context: Any
    ) -> pb.NotifyTestResponse:
        # python-telegram-bot and httpx load only when a test message is actually sent.
        from agent.notify.service import token_from_env
        from agent.notify.telegram import NotifyError, send_test_message

        h = self.host.handle(request.bot or None)
        name = h.bot.name
        cfg = h.bot.config.notifications.telegram
        token = self.credentials.telegram_token() or token_from_env()
        if not token:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, NO_TELEGRAM_TOKEN)
        if not cfg.enabled:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"notifications.telegram.enabled is false for bot {name}",
            )
        if not cfg.chat_ids:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"notifications.telegram.chat_ids is empty for bot {name}",
            )
        assert token is not None  # abort raised otherwise
        try:
            await send_test_message(cfg, token)
        except NotifyError as exc:
            log.warning("telegram test message for %s failed: %s", name, exc)
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        chats = list(dict.fromkeys(cfg.chat_ids))
        log.info("telegram test message for %s sent to %d chat(s)", name, len(chats))
        return pb.NotifyTestResponse(chat_ids=chats)
