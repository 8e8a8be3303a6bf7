"""Telegram: alerts out of the agent, a few lifecycle commands in.

The notifier runs in the agent (alerts still go out when the control plane is down) and hangs
off the host's event bus with a plain synchronous callback that only classifies and enqueues:
the trading loop must never wait for Telegram. One sender task per chat paces messages inside
Telegram's limits, merges what piled up into one message, and retries critical alerts with
exponential backoff until they are delivered. Commands from allow-listed chats go through
`AgentHost.command`, the same command layer gRPC uses; nothing here changes a bot directly.

The token is a credential: it is only handed to python-telegram-bot, registered with the log
redactor before any request is made, and never put into a message, an exception text of ours or
a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import timedelta
from decimal import Decimal
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from agent.config import NotifyLevel, TelegramConfig
from agent.events import Event, EventKind
from agent.host import AgentHost, UnknownBot
from agent.lifecycle import InvalidCommand
from agent.notify.messages import (
    DEFAULT_LEVELS,
    HELP_TEXT,
    KIND_NAMES,
    Alert,
    FillDigest,
    Market,
    NotifyKind,
    alert_for,
    dec,
    format_status,
)
from agent.notify.queue import OutboundQueue, Outgoing
from agent.notify.ratelimit import ChatPacer, RateLimit
from agent.notify.redact import describe, protect
from agent.notify.report import Tally, format_daily_report, next_report_at

log = logging.getLogger(__name__)

# Telegram command -> AgentHost.command verb. Pause is immediate (it is the safe direction);
# the others change what the bot does with money and ask for a confirmation first.
COMMANDS = {"pause": "pause", "resume": "resume", "stop": "stop", "cancelall": "cancel-all"}
CONFIRM = frozenset({"resume", "stop", "cancelall"})
CONFIRM_QUESTION = {
    "resume": "Resume {bot} ({symbol})? It starts quoting again.",
    "stop": "Stop {bot} ({symbol})? Its orders are cancelled; a restart is needed to trade.",
    "cancelall": "Cancel every open order of {bot} ({symbol})? The bot keeps its state.",
}
DONE = {
    "pause": "⏸ paused",
    "resume": "▶️ resumed",
    "stop": "⏹ stopped",
    "cancelall": "🧹 all orders cancelled",
}
NONCRITICAL_ATTEMPTS = 3  # a routine alert that fails this often is dropped (and counted)
OUTAGE_LOG_SECONDS = 300.0  # an ongoing outage is logged again at most this often
# Order updates and status ticks are the bulk of all events and never alert: skip them first.
_QUIET_KINDS = frozenset({EventKind.ORDER, EventKind.STATUS, EventKind.CONFIG})


class NotifyError(Exception):
    """A Telegram call that the operator must hear about (bad token, unknown chat, no network).
    Its text never contains the token."""


@dataclass
class NotifierStats:
    queued: int = 0  # alerts put into chat queues (one per chat)
    sent: int = 0  # Telegram messages delivered (a message may carry several alerts)
    alerts_sent: int = 0  # alerts delivered
    coalesced: int = 0  # messages that carried more than one alert
    retries: int = 0  # send attempts after a failure
    failed: int = 0  # messages given up on (routine after retries, or refused by Telegram)
    dropped: int = 0  # routine alerts shed from full queues
    commands: int = 0  # commands handled from allowed chats
    ignored_updates: int = 0  # updates from chats outside chat_ids

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class _Pending:
    """A question waiting for a button press: a confirmation (bot set) or a bot choice."""

    command: str
    bot: str | None
    chat_id: int
    expires: float


def _retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # the int/timedelta migration warning is not ours
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _api_base(config: TelegramConfig) -> str:
    return config.api_base_url.rstrip("/")


class TelegramNotifier:
    """Alerts and commands for the bots of one agent through one Telegram bot token.

    `bot_names`: the bots this notifier speaks for (None: every bot of the host, also ones
    added later). The tuning knobs after it exist for tests and unusual Bot API servers; the
    defaults follow Telegram's documented limits.
    """

    def __init__(
        self,
        host: AgentHost,
        config: TelegramConfig,
        token: str,
        *,
        bot_names: Iterable[str] | None = None,
        queue_capacity: int = 200,
        rate_limit: RateLimit | None = None,
        request_timeout: float = 10.0,
        long_poll_seconds: int = 20,
        retry_base_seconds: float = 1.0,
        retry_max_seconds: float = 60.0,
        confirm_ttl_seconds: float = 120.0,
    ) -> None:
        if not token:
            raise NotifyError("no Telegram bot token")
        self.host = host
        self.config = config
        self.bot_names = frozenset(bot_names) if bot_names is not None else None
        self.stats = NotifierStats()
        self.chat_ids = tuple(dict.fromkeys(config.chat_ids))
        self.levels = dict(DEFAULT_LEVELS)
        self.unknown_levels = sorted(k for k in config.levels if k not in KIND_NAMES)
        for key, level in config.levels.items():
            if key in KIND_NAMES:
                self.levels[NotifyKind(key)] = level
        self._rate = rate_limit or RateLimit()
        self._queues = {chat: OutboundQueue(queue_capacity) for chat in self.chat_ids}
        self._pacers = {chat: ChatPacer(self._rate) for chat in self.chat_ids}
        self._reported_drops = dict.fromkeys(self.chat_ids, 0)
        self._long_poll = long_poll_seconds
        self._retry_base = retry_base_seconds
        self._retry_max = retry_max_seconds
        self._confirm_ttl = confirm_ttl_seconds
        self._digests: dict[str, FillDigest] = {}
        self._digest_since: float | None = None
        self._tallies: dict[str, Tally] = {}
        self._pending: dict[str, _Pending] = {}
        self._ignored_chats: set[int | None] = set()
        self._outage: dict[int | str, float] = {}  # where -> when last logged
        self._tasks: list[asyncio.Task[None]] = []
        self._detach: Callable[[], None] | None = None
        self._ready = asyncio.Event()
        self._inflight = 0  # messages popped from a queue and not yet delivered or given up
        self._started_at = 0.0
        protect(token)  # before the library sees it: ExtBot logs its URL when created
        self.app: Application[Any, Any, Any, Any, Any, Any] = self._build_app(
            token, request_timeout
        )

    # ------------------------------------------------------------------ setup
    def _build_app(self, token: str, timeout: float) -> Application[Any, Any, Any, Any, Any, Any]:
        base = _api_base(self.config)
        poll_read = timeout + self._long_poll
        app = (
            ApplicationBuilder()
            .token(token)
            .base_url(f"{base}/bot")
            .base_file_url(f"{base}/file/bot")
            .request(
                HTTPXRequest(
                    read_timeout=timeout,
                    write_timeout=timeout,
                    connect_timeout=timeout,
                    pool_timeout=timeout,
                )
            )
            .get_updates_request(
                HTTPXRequest(
                    read_timeout=poll_read,
                    write_timeout=timeout,
                    connect_timeout=timeout,
                    pool_timeout=timeout,
                )
            )
            .job_queue(None)
            .build()
        )
        app.add_handler(TypeHandler(Update, self._gate), group=-1)
        app.add_handler(CommandHandler(["help", "start"], self._cmd_help))
        app.add_handler(CommandHandler("status", self._cmd_status))
        app.add_handler(CommandHandler(list(COMMANDS), self._cmd_action))
        app.add_handler(CallbackQueryHandler(self._on_button))
        app.add_handler(MessageHandler(filters.COMMAND, self._cmd_unknown))
        app.add_error_handler(self._on_handler_error)
        return app

    @staticmethod
    def _mono() -> float:
        """Monotonic time of the running loop (virtual under the virtual-time loop)."""
        return asyncio.get_running_loop().time()

    async def start(self) -> None:
        """Subscribe to the bus and start the background tasks; returns at once. Connecting to
        Telegram happens in the background and is retried, so an unreachable Telegram never
        delays the agent's start; alerts queue up meanwhile."""
        if self._tasks:
            return
        if self.unknown_levels:
            log.warning(
                "notifications.telegram.levels: unknown kinds %s ignored (known: %s)",
                ", ".join(self.unknown_levels),
                ", ".join(k.value for k in NotifyKind),
            )
        now = self.host.clock.now()
        self._started_at = now
        self._digest_since = self._mono()
        for bot in self.host.bots:
            if self.watches(bot):
                self._tally(bot)  # the daily report's PnL is measured from here
        self._detach = self.host.bus.subscribe(self.on_event)
        tasks = [self._connect(), self._digest_loop(), self._daily_loop()]
        tasks += [self._send_loop(chat) for chat in self.chat_ids]
        self._tasks = [asyncio.create_task(t, name="telegram-notifier") for t in tasks]

    async def stop(self, flush_seconds: float = 2.0) -> None:
        """Unsubscribe, give pending alerts up to `flush_seconds`, then shut everything down."""
        if self._detach is not None:
            self._detach()
            self._detach = None
        self._flush_digests()
        if self._ready.is_set() and flush_seconds > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(flush_seconds):
                    while self._inflight or any(len(q) for q in self._queues.values()):
                        await asyncio.sleep(0.05)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        app = self.app
        try:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
        except TelegramError as exc:
            log.warning("telegram shutdown: %s", describe(exc))

    async def _connect(self) -> None:
        """Initialize (getMe) with backoff until Telegram answers, then start polling."""
        delay = self._retry_base
        while True:
            try:
                await self.app.initialize()
                break
            except InvalidToken:
                log.error(
                    "Telegram rejected the bot token: notifications and commands are off "
                    "until the token is replaced"
                )
                return
            except TelegramError as exc:
                self._note_outage(f"connect to {_api_base(self.config)}", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
        self._note_recovery(f"connect to {_api_base(self.config)}")
        me = self.app.bot.username
        log.info("telegram: connected as @%s, %d chat(s)", me, len(self.chat_ids))
        self._ready.set()
        await self.app.start()
        updater = self.app.updater
        if updater is None:
            return
        await updater.start_polling(
            timeout=self._long_poll,
            drop_pending_updates=True,  # never act on commands sent while the agent was down
            allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY],
            bootstrap_retries=-1,
            error_callback=self._on_polling_error,
        )

    def _on_polling_error(self, exc: TelegramError) -> None:
        self._note_outage("updates", exc)

    # ------------------------------------------------------------------ events in
    def watches(self, bot: str) -> bool:
        return self.bot_names is None or bot in self.bot_names

    def market(self, bot: str) -> Market:
        handle = self.host.bots.get(bot)
        return Market(bot, handle.bot.symbol if handle is not None else "?/?")

    def on_event(self, ev: Event) -> None:
        """Bus subscriber, called synchronously in the trading loop: classify, count, enqueue.
        Never raises (an exception here would hit the bot that emitted the event)."""
        try:
            if ev.kind in _QUIET_KINDS or not self.watches(ev.bot):
                return
            market = self.market(ev.bot)
            tally = self._tally(ev.bot)
            if ev.kind is EventKind.FILL:
                tally.add_fill(ev.data, market.quote)
                if self.levels[NotifyKind.FILL] is not NotifyLevel.OFF:
                    self._digests.setdefault(ev.bot, FillDigest()).add(ev.data)
                return
            if ev.kind is EventKind.RISK and ev.data.get("code") == "breach":
                tally.add_breach(ev.data)
            elif ev.kind is EventKind.ERROR:
                tally.errors += 1
            alert = alert_for(ev, market)
            if alert is not None:
                self.enqueue(alert)
        except Exception:
            log.exception("telegram notifier: event %s of %s not handled", ev.seq, ev.bot)

    def enqueue(self, alert: Alert) -> None:
        """Put an alert into every chat's queue, honouring the kind's level."""
        level = self.levels.get(alert.kind, NotifyLevel.ON)
        if level is NotifyLevel.OFF:
            return
        for queue in self._queues.values():
            before = queue.dropped
            queue.push(
                Outgoing(
                    alert.text,
                    critical=alert.critical,
                    silent=level is NotifyLevel.SILENT,
                    key=alert.key,
                )
            )
            self.stats.dropped += queue.dropped - before
            self.stats.queued += 1

    def _tally(self, bot: str) -> Tally:
        tally = self._tallies.get(bot)
        if tally is None:
            tally = self._tallies[bot] = Tally(since=self._started_at or self.host.clock.now())
            tally.pnl_start = self._pnl(bot)
        return tally

    def _pnl(self, bot: str) -> Decimal | None:
        if bot not in self.host.bots:
            return None
        try:
            return dec(self.host.status(bot).get("pnl_quote"))
        except Exception:  # a bot that has not synced yet has no PnL to start from
            return None

    # ------------------------------------------------------------------ periodic alerts
    async def _digest_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.fill_digest_seconds)
            self._flush_digests()

    def _flush_digests(self) -> None:
        now = self._mono()
        since = self._digest_since if self._digest_since is not None else now
        for bot, digest in list(self._digests.items()):
            if digest.count:
                text = digest.format(self.market(bot), now - since)
                self.enqueue(Alert(NotifyKind.FILL, text))
        self._digests.clear()
        self._digest_since = now

    async def _daily_loop(self) -> None:
        clock = self.host.clock
        while True:
            target = next_report_at(clock.now(), self.config.daily_report_utc)
            while (left := target - clock.now()) > 0:
                await asyncio.sleep(min(left, 60.0))  # re-read the clock: no drift over a day
            self.queue_daily_report()

    def queue_daily_report(self) -> None:
        """Queue one report per watched bot and start a new reporting period."""
        now = self.host.clock.now()
        names = sorted(n for n in {*self._tallies, *self.host.bots} if self.watches(n))
        for bot in names:
            tally = self._tally(bot)
            status = None
            if bot in self.host.bots:
                with contextlib.suppress(Exception):
                    status = self.host.status(bot)
            text = format_daily_report(
                self.market(bot),
                status,
                tally,
                now=now,
                agent_up_seconds=now - self._started_at,
            )
            self.enqueue(Alert(NotifyKind.DAILY_REPORT, text))
            fresh = Tally(since=now)
            fresh.pnl_start = self._pnl(bot)
            self._tallies[bot] = fresh

    # ------------------------------------------------------------------ sending
    async def _send_loop(self, chat: int) -> None:
        queue, pacer = self._queues[chat], self._pacers[chat]
        await self._ready.wait()
        while True:
            await queue.wait()
            delay = pacer.delay(self._mono())
            if delay > 0:
                await asyncio.sleep(delay)  # alerts arriving meanwhile join this message
            batch = queue.pop_batch()
            if batch is None:
                continue
            text = batch.text
            dropped = queue.dropped - self._reported_drops[chat]
            if dropped:
                self._reported_drops[chat] = queue.dropped
                text += f"\n\n({dropped} older alerts dropped: Telegram was too slow)"
            self._inflight += 1
            try:
                delivered = await self._deliver(
                    chat, text, silent=batch.silent, critical=batch.critical
                )
            finally:
                self._inflight -= 1
            if delivered:
                self.stats.alerts_sent += batch.items
                if batch.items > 1:
                    self.stats.coalesced += 1

    async def _deliver(self, chat: int, text: str, *, silent: bool, critical: bool) -> bool:
        """Send one message; critical ones are retried with backoff until they get through."""
        pacer = self._pacers[chat]
        attempt = 0
        while True:
            try:
                await self.app.bot.send_message(chat, text, disable_notification=silent)
            except RetryAfter as exc:
                wait = _retry_after_seconds(exc)
                pacer.block_until(self._mono() + wait)
            except (BadRequest, Forbidden, InvalidToken, ChatMigrated) as exc:
                # Telegram refused this chat or message: retrying the same request cannot help.
                self.stats.failed += 1
                log.error("telegram: chat %s refused a message: %s", chat, describe(exc))
                return False
            except TelegramError as exc:  # 5xx, timeouts, connection refused: Telegram is away
                wait = min(self._retry_base * 2**attempt, self._retry_max)
                self._note_outage(chat, exc)
            else:
                pacer.record(self._mono())
                self.stats.sent += 1
                self._note_recovery(chat)
                return True
            attempt += 1
            if not critical and attempt >= NONCRITICAL_ATTEMPTS:
                self.stats.failed += 1
                return False
            self.stats.retries += 1
            await asyncio.sleep(wait)

    def _note_outage(self, where: int | str, exc: TelegramError) -> None:
        """Log an outage when it starts (and every few minutes while it lasts), not on every
        retry: the log must stay readable through a long Telegram outage."""
        now = self._mono()
        last = self._outage.get(where)
        if last is None or now - last >= OUTAGE_LOG_SECONDS:
            self._outage[where] = now
            log.warning("telegram unreachable (%s): %s; retrying", where, describe(exc))

    def _note_recovery(self, where: int | str) -> None:
        if self._outage.pop(where, None) is not None:
            log.info("telegram reachable again (%s)", where)

    async def _reply(
        self, update: Update, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> None:
        message = update.effective_message
        if message is None:
            return
        await message.reply_text(text, reply_markup=markup)
        pacer = self._pacers.get(message.chat_id)
        if pacer is not None:
            pacer.record(self._mono())

    # ------------------------------------------------------------------ commands
    async def _gate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """First handler for every update: anything not from an allow-listed chat stops here
        (logged once per chat, so a spammer cannot fill the log)."""
        chat = update.effective_chat
        chat_id = chat.id if chat is not None else None
        if chat_id is not None and chat_id in self.chat_ids:
            return
        self.stats.ignored_updates += 1
        if chat_id not in self._ignored_chats:
            self._ignored_chats.add(chat_id)
            log.warning(
                "telegram: ignoring updates from chat %s (not in notifications.telegram.chat_ids)",
                chat_id,
            )
        raise ApplicationHandlerStop

    async def _cmd_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(update, HELP_TEXT)

    async def _cmd_unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(update, "Unknown command.\n\n" + HELP_TEXT)

    def _bots(self) -> list[str]:
        return sorted(n for n in self.host.bots if self.watches(n))

    def _resolve(self, args: list[str] | None) -> tuple[list[str], str | None]:
        """The bots a command names, or an error text."""
        if args:
            name = args[0]
            if name in self.host.bots and self.watches(name):
                return [name], None
            return [], f"No bot named {name!r}. Bots: {', '.join(self._bots()) or 'none'}"
        bots = self._bots()
        return bots, None if bots else "This agent runs no bots yet."

    async def _cmd_status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.stats.commands += 1
        bots, error = self._resolve(context.args)
        if error:
            await self._reply(update, error)
            return
        parts = []
        for bot in bots:
            try:
                parts.append(format_status(self.market(bot), self.host.status(bot)))
            except UnknownBot as exc:
                parts.append(f"{bot}: {exc}")
        s = self.stats
        if s.dropped or s.failed:
            parts.append(f"alerts: {s.dropped} dropped, {s.failed} failed since start")
        await self._reply(update, "\n\n".join(parts))

    async def _cmd_action(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.stats.commands += 1
        message = update.effective_message
        if message is None or not message.text:
            return
        command = message.text.split()[0].lstrip("/").split("@")[0].lower()
        bots, error = self._resolve(context.args)
        if error:
            await self._reply(update, error)
            return
        if len(bots) > 1:
            key = self._ask(command, None, message.chat_id)
            buttons = [[InlineKeyboardButton(b, callback_data=f"pick:{key}:{b}")] for b in bots]
            buttons.append([InlineKeyboardButton("✖️ Cancel", callback_data=f"no:{key}")])
            await self._reply(update, f"/{command}: which bot?", InlineKeyboardMarkup(buttons))
            return
        await self._act_or_confirm(update, command, bots[0], message.chat_id)

    async def _act_or_confirm(self, update: Update, command: str, bot: str, chat: int) -> None:
        if command not in CONFIRM:
            await self._reply(update, await self._run(command, bot))
            return
        question, markup = self._confirmation(command, bot, chat)
        await self._reply(update, question, markup)

    def _confirmation(self, command: str, bot: str, chat: int) -> tuple[str, InlineKeyboardMarkup]:
        key = self._ask(command, bot, chat)
        label = "Cancel all" if command == "cancelall" else command.capitalize()
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(f"✅ {label}", callback_data=f"ok:{key}"),
                    InlineKeyboardButton("✖️ No", callback_data=f"no:{key}"),
                ]
            ]
        )
        return CONFIRM_QUESTION[command].format(bot=bot, symbol=self.market(bot).symbol), markup

    def _ask(self, command: str, bot: str | None, chat: int) -> str:
        now = self._mono()
        for k in [k for k, p in self._pending.items() if p.expires < now]:
            del self._pending[k]
        key = secrets.token_urlsafe(6)
        self._pending[key] = _Pending(command, bot, chat, now + self._confirm_ttl)
        return key

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.data is None:
            return
        verb, _, rest = query.data.partition(":")
        key, _, picked = rest.partition(":")
        pending = self._pending.pop(key, None)
        chat = update.effective_chat
        if (
            pending is None
            or pending.expires < self._mono()
            or chat is None
            or chat.id != pending.chat_id
        ):
            await query.answer("This question has expired.")
            await query.edit_message_text("Expired: send the command again.")
            return
        if verb == "no":
            await query.answer("Cancelled")
            await query.edit_message_text(f"/{pending.command}: cancelled, nothing was done.")
            return
        if verb == "pick" and pending.bot is None:
            await query.answer()
            if picked not in self.host.bots or not self.watches(picked):
                await query.edit_message_text(f"No bot named {picked!r}.")
                return
            if pending.command in CONFIRM:
                question, markup = self._confirmation(pending.command, picked, pending.chat_id)
                await query.edit_message_text(question, reply_markup=markup)
            else:
                await query.edit_message_text(await self._run(pending.command, picked))
            return
        if verb == "ok" and pending.bot is not None:
            await query.answer("Working…")
            await query.edit_message_text(await self._run(pending.command, pending.bot))
            return
        await query.answer("Unknown button.")

    async def _run(self, command: str, bot: str) -> str:
        """Execute through the host's command layer and describe the outcome."""
        try:
            result = await self.host.command(bot, COMMANDS[command])
        except (InvalidCommand, UnknownBot) as exc:
            log.info("telegram: /%s on %s refused: %s", command, bot, exc)
            return f"❌ {bot}: {exc}"
        except Exception as exc:
            log.exception("telegram: /%s on %s failed", command, bot)
            return f"❌ {bot}: /{command} failed: {describe(exc)}"
        log.info("telegram: /%s on %s -> %s", command, bot, result.state.value)
        if not result.ok:
            return f"⚠️ {result.bot}: /{command}: {result.message} (state {result.state.value})"
        return f"{DONE[command]}: {result.bot} is {result.state.value}"

    async def _on_handler_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        err = context.error
        if isinstance(err, TelegramError):
            self._note_outage("replies", err)
        elif err is not None:
            log.error("telegram: handler failed: %s", describe(err), exc_info=err)


async def send_test_message(config: TelegramConfig, token: str, *, timeout: float = 10.0) -> None:
    """`mmbot ctl notify-test`: one test message to every configured chat, through the
    configured Bot API server. Raises NotifyError with an operator-readable reason."""
    if not token:
        raise NotifyError(
            "no Telegram bot token: store it in the agent's credentials or set "
            "MMBOT_TELEGRAM_BOT_TOKEN"
        )
    if not config.chat_ids:
        raise NotifyError("notifications.telegram.chat_ids is empty: add the chat to alert")
    base = _api_base(config)
    request = HTTPXRequest(
        read_timeout=timeout, write_timeout=timeout, connect_timeout=timeout, pool_timeout=timeout
    )
    protect(token)
    bot = Bot(token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot", request=request)
    chat: int | None = None
    try:
        async with bot:  # getMe: proves the token
            for chat in config.chat_ids:
                await bot.send_message(
                    chat,
                    f"✅ mmbot test message from @{bot.username}: this chat receives the "
                    "agent's alerts.",
                )
    except InvalidToken:
        raise NotifyError("Telegram rejected the bot token (unauthorized)") from None
    except (BadRequest, Forbidden) as exc:
        raise NotifyError(f"chat {chat}: {describe(exc)}") from None
    except TelegramError as exc:
        raise NotifyError(f"Telegram not reachable at {base}: {describe(exc)}") from None
