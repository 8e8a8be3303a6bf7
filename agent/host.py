"""The agent host: the bots of one agent, their journal, and the one command layer.

Every channel (gRPC, Telegram, the local CLI) calls the methods here: one place for lifecycle
commands, config validation and application, status and the event feed (as Freqtrade's RPC
layer does). Nothing here knows about a particular channel.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent import __version__
from agent.bot import Bot
from agent.clock import Clock
from agent.config import BotConfig, ConfigError, parse_config
from agent.events import Event, EventBus, EventKind, Severity
from agent.journal import Journal
from agent.lifecycle import BotState, InvalidCommand
from agent.venues.base import Venue, VenueError

VenueFactory = Callable[[BotConfig, Clock], Venue]

LIVE_QUEUE_MAX = 20_000  # events buffered per live subscriber before it reads from the journal
COMMANDS = ("start", "pause", "resume", "stop", "cancel-all", "kill")


class UnknownBot(LookupError):
    pass


class VersionConflict(Exception):
    """ApplyConfig with an expected_version that is not the current one."""


@dataclass
class BotHandle:
    bot: Bot
    venue: Venue
    version: int


@dataclass(frozen=True)
class CommandResult:
    bot: str
    command: str
    state: BotState
    ok: bool = True
    message: str = ""


class AgentHost:
    def __init__(
        self,
        data_dir: Path,
        clock: Clock,
        venue_factory: VenueFactory,
        *,
        seed: int = 0,
    ) -> None:
        self.data_dir = data_dir
        self.clock = clock
        self.venue_factory = venue_factory
        self.seed = seed
        self.journal = Journal(data_dir / "journal.sqlite")
        self.bus = EventBus(clock.now, first_seq=self.journal.last_seq() + 1)
        self.bus.subscribe(self.journal, durable=True)
        self.bots: dict[str, BotHandle] = {}
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ bots
    async def load(self) -> None:
        """Recreate the bots recorded in the journal and bring each back to its last state."""
        for name, (state, _reason) in self.journal.bots().items():
            latest = self.journal.latest_config(name)
            if latest is None:
                continue
            version, data = latest
            try:
                cfg = parse_config(data)
                handle = await self._spawn(cfg, version)
                await self._resume_from(handle, BotState(state))
            except (ConfigError, VenueError, OSError) as exc:
                # One broken bot must not keep the agent (and its other bots) down.
                self.bus.emit(
                    EventKind.ERROR,
                    name,
                    Severity.CRITICAL,
                    code="load_failed",
                    message=f"bot could not be restored: {exc}",
                )

    async def add_bot(
        self, config: BotConfig, *, author: str = "local", comment: str = "", start: bool = True
    ) -> BotHandle:
        name = config.bot.name
        if name in self.bots:
            raise ConfigError([f"bot.name: a bot named {name!r} already exists"])
        # The venue first: a config whose venue cannot be built is never journaled, so a
        # restart cannot trip over it.
        handle = await self._spawn(config, 0)
        version = self.journal.add_config(name, config.dump(), author, comment, self.clock.now())
        handle.version = version
        self.bus.emit(
            EventKind.CONFIG, name, Severity.INFO, version=version, author=author, comment=comment
        )
        if start:
            await handle.bot.start()
        return handle

    async def _spawn(self, config: BotConfig, version: int) -> BotHandle:
        venue = self.venue_factory(config, self.clock)
        await venue.start()
        bot = Bot(config, venue, self.bus, self.clock, seed=self.seed)
        bot.journal = self.journal
        handle = BotHandle(bot, venue, version)
        self.bots[config.bot.name] = handle
        return handle

    async def _resume_from(self, handle: BotHandle, last: BotState) -> None:
        """RUNNING stays RUNNING, PAUSED stays PAUSED; anything else waits for a start."""
        bot = handle.bot
        bot.restore_from_journal()
        if last in (BotState.RUNNING, BotState.START_QUOTING, BotState.SYNC_BALANCES):
            await bot.start(reason="recovered after restart")
        elif last is BotState.PAUSED:
            await bot.start(reason="recovered after restart", paused=True)
        else:
            await bot.recover_idle()

    def handle(self, name: str | None) -> BotHandle:
        if name is None or name == "":
            if len(self.bots) == 1:
                return next(iter(self.bots.values()))
            raise UnknownBot(
                "name the bot (--bot): this agent hosts "
                + (", ".join(sorted(self.bots)) or "no bots")
            )
        try:
            return self.bots[name]
        except KeyError:
            raise UnknownBot(f"no bot named {name!r}") from None

    # ------------------------------------------------------------------ commands
    async def command(self, name: str | None, command: str) -> CommandResult:
        """start | pause | resume | stop | cancel-all | kill. Raises InvalidCommand/UnknownBot."""
        h = self.handle(name)
        bot = h.bot
        async with self._lock:
            if command == "start":
                await bot.start()
            elif command == "pause":
                await bot.pause()
            elif command == "resume":
                await bot.resume()
            elif command == "stop":
                await bot.stop()
            elif command == "cancel-all":
                if bot.state is BotState.RUNNING:
                    # a running bot would quote again at once: cancel-all pauses it first
                    await bot.pause("cancel-all")
                    return CommandResult(
                        bot.name, command, bot.state, True, "paused and cancelled every order"
                    )
                if not await bot.cancel_all():
                    return CommandResult(
                        bot.name,
                        command,
                        bot.state,
                        False,
                        "could not confirm every cancel with the venue",
                    )
            elif command == "kill":
                await bot.kill()
            else:
                raise InvalidCommand(f"unknown command {command!r}; one of {', '.join(COMMANDS)}")
        return CommandResult(bot.name, command, bot.state)

    # ------------------------------------------------------------------ configs
    def validate(self, name: str | None, data: Any) -> tuple[BotConfig, dict[str, Any] | None]:
        """Validate with the same models as the CLI; preview the ladder at the current price."""
        cfg = parse_config(data)
        preview = None
        with contextlib.suppress(UnknownBot):
            h = self.handle(name or cfg.bot.name)
            self._check_immutable(h.bot.config, cfg)
            preview = h.bot.preview(cfg)
        return cfg, preview

    async def apply_config(
        self,
        name: str | None,
        data: Any,
        *,
        expected_version: int | None,
        author: str = "local",
        comment: str = "",
    ) -> int:
        cfg = parse_config(data)
        h = self.handle(name or cfg.bot.name)
        async with self._lock:
            if expected_version is not None and expected_version != h.version:
                raise VersionConflict(
                    f"config of {h.bot.name} is at version {h.version}, not {expected_version}"
                )
            self._check_immutable(h.bot.config, cfg)
            version = self.journal.add_config(
                h.bot.name, cfg.dump(), author, comment, self.clock.now()
            )
            h.version = version
            h.bot.apply_config(cfg)
            self.bus.emit(
                EventKind.CONFIG,
                h.bot.name,
                Severity.INFO,
                version=version,
                author=author,
                comment=comment,
            )
        return version

    @staticmethod
    def _check_immutable(old: BotConfig, new: BotConfig) -> None:
        errors = []
        for f in ("name", "venue", "symbol"):
            if getattr(old.bot, f) != getattr(new.bot, f):
                errors.append(
                    f"bot.{f}: cannot change on an existing bot "
                    f"({getattr(old.bot, f)!r}); create a new bot instead"
                )
        if errors:
            raise ConfigError(errors)

    # ------------------------------------------------------------------ views
    def info(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "bots": [
                {
                    "name": n,
                    "venue": h.venue.name,
                    "symbol": h.bot.symbol,
                    "state": h.bot.state.value,
                    "config_version": h.version,
                }
                for n, h in sorted(self.bots.items())
            ],
            "capabilities": {
                n: {
                    k: getattr(h.venue.capabilities, k)
                    for k in h.venue.capabilities.__dataclass_fields__
                }
                for n, h in sorted(self.bots.items())
            },
            "last_seq": self.bus.last_seq,
        }

    def status(self, name: str | None) -> dict[str, Any]:
        h = self.handle(name)
        out = h.bot.full_status()
        out["config_version"] = h.version
        out["venue"] = h.venue.name
        return out

    async def events(self, from_seq: int = 0, batch: int = 500) -> AsyncIterator[list[Event]]:
        """Everything after `from_seq`: first from the journal, then live, without a gap or a
        duplicate (the live queue is attached before the journal is read)."""
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=LIVE_QUEUE_MAX)
        overflow = False

        def offer(ev: Event) -> None:
            nonlocal overflow
            if overflow:
                return
            try:
                queue.put_nowait(ev)
            except asyncio.QueueFull:
                overflow = True  # a slow reader: it catches up from the journal instead

        detach = self.bus.subscribe(offer)
        try:
            last = from_seq
            while True:
                for chunk in self.journal.iter_events(last, batch):
                    last = chunk[-1].seq
                    yield chunk
                overflow = False
                while not overflow or not queue.empty():
                    ev = await queue.get()
                    out = [ev] if ev.seq > last else []
                    while not queue.empty() and len(out) < batch:
                        nxt = queue.get_nowait()
                        if nxt.seq > last:
                            out.append(nxt)
                    if out:
                        last = out[-1].seq
                        yield out
        finally:
            detach()

    async def close(self) -> None:
        for h in self.bots.values():
            await h.bot.close()
            await h.venue.close()
        self.journal.close()
