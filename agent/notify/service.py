"""Keeps the agent's Telegram notifier in line with its bots' configurations.

Telegram is configured per bot (`notifications.telegram`), but one bot token can only be polled
by one process, so an agent runs at most one notifier. This service picks the setup (the
enabled config of the alphabetically first bot; bots with the identical block share it), starts
the notifier, and follows changes: a config applied from the console or the CLI, a bot added,
a token stored later. Bots whose enabled block differs are reported in the log, not silently
ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.config import TelegramConfig
from agent.events import Event, EventKind
from agent.host import AgentHost
from agent.notify.telegram import TelegramNotifier

log = logging.getLogger(__name__)

TOKEN_ENV = "MMBOT_TELEGRAM_BOT_TOKEN"
TokenSource = Callable[[], str | None]


def token_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The standalone agent's token source: MMBOT_TELEGRAM_BOT_TOKEN (empty means unset)."""
    value = (os.environ if env is None else env).get(TOKEN_ENV, "").strip()
    return value or None


@dataclass(frozen=True, eq=True)
class TelegramPlan:
    config: TelegramConfig
    bots: frozenset[str]


def plan_telegram(host: AgentHost) -> tuple[TelegramPlan | None, list[str]]:
    """The notifier setup the host's bots ask for, and warnings for bots left out."""
    enabled = sorted(
        (name, h.bot.config.notifications.telegram)
        for name, h in host.bots.items()
        if h.bot.config.notifications.telegram.enabled
    )
    if not enabled:
        return None, []
    lead, config = enabled[0]
    bots = frozenset(name for name, c in enabled if c == config)
    warnings = [
        f"bot {name}: notifications.telegram differs from bot {lead}'s; an agent has one "
        f"Telegram setup, so {name} is not notified (make the blocks identical)"
        for name, c in enabled
        if c != config
    ]
    return TelegramPlan(config, bots), warnings


class TelegramService:
    """Start with `start()`, end with `stop()`; in between it follows the bots' configs.

    `token_source` is asked on every check, so a token stored while the agent runs is picked
    up. `notifier_options` go to every TelegramNotifier (tests use fast knobs)."""

    def __init__(
        self,
        host: AgentHost,
        token_source: TokenSource = token_from_env,
        *,
        check_seconds: float = 5.0,
        **notifier_options: Any,
    ) -> None:
        self.host = host
        self.token_source = token_source
        self.check_seconds = check_seconds
        self.notifier_options = notifier_options
        self.notifier: TelegramNotifier | None = None
        self._plan: TelegramPlan | None = None
        self._token: str | None = None
        self._warned: set[str] = set()
        self._poke = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._detach: Callable[[], None] | None = None

    async def start(self) -> None:
        await self.reconcile()
        self._detach = self.host.bus.subscribe(self._on_event)
        self._task = asyncio.create_task(self._watch(), name="telegram-service")

    async def stop(self) -> None:
        if self._detach is not None:
            self._detach()
            self._detach = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._replace(None, None)

    def _on_event(self, ev: Event) -> None:
        if ev.kind is EventKind.CONFIG:
            self._poke.set()  # a config was applied or a bot added: check soon

    async def _watch(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), self.check_seconds)
                await asyncio.sleep(0.1)  # the host registers a new bot after its CONFIG event
            self._poke.clear()
            try:
                await self.reconcile()
            except Exception:
                log.exception("telegram: could not apply the notification settings")

    async def reconcile(self) -> None:
        """Bring the running notifier in line with the configs and the token."""
        plan, warnings = plan_telegram(self.host)
        for w in warnings:
            if w not in self._warned:
                self._warned.add(w)
                log.warning("telegram: %s", w)
        token = self.token_source() if plan is not None else None
        if plan is not None and token is None:
            note = "no bot token"
            if note not in self._warned:
                self._warned.add(note)
                log.warning(
                    "telegram: enabled for %s but there is no bot token: store it in the "
                    "agent's credentials or set %s",
                    ", ".join(sorted(plan.bots)),
                    TOKEN_ENV,
                )
            plan = None
        current = self.notifier
        if (
            current is not None
            and plan is not None
            and token == self._token
            and plan.config == current.config
        ):
            current.bot_names = plan.bots  # same setup, other bots: no restart needed
            self._plan = plan
            return
        if plan == self._plan and token == self._token:
            return
        await self._replace(plan, token)

    async def _replace(self, plan: TelegramPlan | None, token: str | None) -> None:
        if self.notifier is not None:
            await self.notifier.stop()
            self.notifier = None
        self._plan, self._token = plan, token
        if plan is None or token is None:
            return
        notifier = TelegramNotifier(
            self.host, plan.config, token, bot_names=plan.bots, **self.notifier_options
        )
        await notifier.start()
        self.notifier = notifier
        log.info(
            "telegram: notifying %d chat(s) about %s",
            len(plan.config.chat_ids),
            ", ".join(sorted(plan.bots)),
        )
