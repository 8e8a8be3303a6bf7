"""The Telegram notifier against a fake Bot API over real HTTP on 127.0.0.1, driving a real
AgentHost with bots on the simulated venue (real-time loop: python-telegram-bot needs one)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agent.clock import Clock
from agent.config import BotConfig, BreachAction, TelegramConfig, load_config
from agent.events import Event, EventKind, Severity
from agent.host import AgentHost
from agent.lifecycle import BotState
from agent.notify.ratelimit import RateLimit
from agent.notify.telegram import NotifyError, TelegramNotifier, send_test_message
from agent.risk import Breach
from agent.risk.rules import RiskRule
from agent.venues.sim import SimVenue, load_scenario
from tests.fake_telegram import Call, FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "7654321:AAF-fake-telegram-token_for-tests"
CHAT = 111
OTHER_CHAT = -222  # a second allow-listed chat (a group)
FOREIGN = 999
pytestmark = pytest.mark.filterwarnings(
    # python-telegram-bot's own RetryAfter constructor reads its deprecated int property.
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)
FAST = RateLimit(min_interval=0.05, per_window=100, window=60.0)

Notify = Callable[..., Awaitable[TelegramNotifier]]


def bot_config(name: str = "ushark-mm") -> BotConfig:
    cfg = load_config(ROOT / "examples" / "ushark.yaml")
    return cfg.model_copy(update={"bot": cfg.bot.model_copy(update={"name": name})})


def tg_config(fake: FakeTelegram, **kw: Any) -> TelegramConfig:
    data: dict[str, Any] = {"enabled": True, "chat_ids": [CHAT], "api_base_url": fake.url}
    data.update(kw)
    return TelegramConfig(**data)


def sim_venue(cfg: BotConfig, clock: Clock) -> SimVenue:
    return SimVenue(load_scenario("calm"), seed=1, clock=clock)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram(TOKEN)
    await server.start()
    yield server
    await server.close()


async def make_host(tmp_path: Path, *names: str, epoch: float | None = None) -> AgentHost:
    clock = Clock(asyncio.get_running_loop(), epoch)
    host = AgentHost(data_dir=tmp_path, clock=clock, venue_factory=sim_venue)
    for name in names:
        await host.add_bot(bot_config(name), start=False)
    return host


@pytest.fixture
async def host(tmp_path: Path) -> AsyncIterator[AgentHost]:
    """One bot on the simulated venue, not started (so it emits nothing on its own)."""
    h = await make_host(tmp_path, "ushark-mm")
    yield h
    await h.close()


@pytest.fixture
async def notify(fake: FakeTelegram) -> AsyncIterator[Notify]:
    """Start notifiers (stopped at teardown) with fast test knobs unless overridden."""
    started: list[TelegramNotifier] = []

    async def start(h: AgentHost, config: TelegramConfig | None = None, **kw: Any) -> Any:
        kw.setdefault("rate_limit", FAST)
        kw.setdefault("retry_base_seconds", 0.05)
        kw.setdefault("request_timeout", 2.0)
        kw.setdefault("long_poll_seconds", 1)
        n = TelegramNotifier(h, config or tg_config(fake), TOKEN, **kw)
        await n.start()
        started.append(n)
        return n

    yield start
    for n in started:
        await n.stop(flush_seconds=0)


def state(h: AgentHost, src: str, dst: str, reason: str = "operator") -> None:
    sev = Severity.ERROR if dst == "ERROR" else Severity.INFO
    h.bus.emit(EventKind.STATE, "ushark-mm", sev, **{"from": src, "to": dst}, reason=reason)


def breach(h: AgentHost, rule: RiskRule, value: str, limit: str, action: BreachAction) -> None:
    b = Breach(rule, Decimal(value), Decimal(limit), action, h.clock.now(), "")
    h.bus.emit(EventKind.RISK, "ushark-mm", Severity.WARNING, **b.fields())


def fill(h: AgentHost, side: str, price: str, amount: str, fee: str = "0.01") -> None:
    """A fill event as the bot emits it (the journal projects it, so every field is there)."""
    h.bus.emit(
        EventKind.FILL,
        "ushark-mm",
        Severity.INFO,
        client_order_id=f"test-{h.bus.last_seq}",
        trade_id=f"t{h.bus.last_seq}",
        side=side,
        price=Decimal(price),
        amount=Decimal(amount),
        fee=Decimal(fee),
        fee_asset="USDT",
        liquidity="maker",
    )


def joined(fake: FakeTelegram, chat: int = CHAT) -> str:
    return "\n\n".join(fake.texts(chat))


async def command(fake: FakeTelegram, text: str, chat: int = CHAT) -> Call:
    """Send a command and return the bot's reply to it (state alerts in between skipped)."""
    before = len(fake.sent(chat))
    fake.inject_message(chat, text)
    replies = await fake.wait_for(
        lambda: [c for c in fake.sent(chat)[before:] if "(was " not in c.text.split("\n")[0]],
        what=f"a reply to {text}",
    )
    return replies[0]


async def press(fake: FakeTelegram, message: Call, label: str, chat: int = CHAT) -> Call:
    """Press the button `label` under `message`; returns the edit that answered it."""
    data = next(d for text, d in message.buttons() if label in text)
    before = len(fake.of("editMessageText"))
    fake.inject_callback(chat, message.message_id, data)
    edits = await fake.wait_for(
        lambda: fake.of("editMessageText")[before:], what=f"the answer to {label}"
    )
    return edits[0]


# ---------------------------------------------------------------------- alerts


async def test_every_alert_kind_reaches_every_chat(
    fake: FakeTelegram, host: AgentHost, notify: Notify
) -> None:
    cfg = tg_config(fake, chat_ids=[CHAT, OTHER_CHAT], fill_digest_seconds=1, levels={"fill": "on"})
    n = await notify(host, cfg)
    state(host, "START_QUOTING", "RUNNING", "quoting")
    breach(host, RiskRule.PRICE_DEVIATION, "21.3", "5", BreachAction.PAUSE)
    host.bus.emit(EventKind.ERROR, "ushark-mm", Severity.ERROR, code="create_failed", message="503")
    host.bus.emit(
        EventKind.VOLUME, "ushark-mm", milestone=50, done_quote="2500", target_quote="5000"
    )
    host.bus.emit(
        EventKind.VOLUME,
        "ushark-mm",
        Severity.WARNING,
        cap="max_daily_loss",
        done_quote="812.5",
        limit="25",
        reason="max_daily_loss hit: lost 25.3 > 25",
    )
    fill(host, "buy", "0.002", "10000")
    fill(host, "sell", "0.0021", "10000")
    expected = [
        "▶️ ushark-mm · USHARK/USDT: RUNNING (was START_QUOTING)",
        "🚨 ushark-mm · USHARK/USDT: risk breach price_deviation\n21.3% > limit 5%",
        "⚠️ ushark-mm · USHARK/USDT: API error create_failed: 503",
        "📈 ushark-mm · USHARK/USDT: volume program at 50 % of today's target",
        "🛑 ushark-mm · USHARK/USDT: volume program stopped for today: max_daily_loss reached",
        "💱 ushark-mm · USHARK/USDT: 2 fills in",
        "bought 10,000 USHARK for 20.00 USDT (1 fill, avg 0.002 USDT)",
    ]
    for chat in (CHAT, OTHER_CHAT):
        await fake.wait_for(
            lambda c=chat: all(e in joined(fake, c) for e in expected),  # type: ignore[misc]
            what=f"every kind in chat {chat}",
        )
    assert n.stats.dropped == 0 and n.stats.failed == 0


async def test_levels_off_and_silent(fake: FakeTelegram, host: AgentHost, notify: Notify) -> None:
    cfg = tg_config(fake, levels={"state": "off", "risk": "silent"})
    await notify(host, cfg)
    await fake.wait_for(lambda: fake.of("deleteWebhook"), what="polling to start")
    state(host, "RUNNING", "PAUSED")
    breach(host, RiskRule.STALE_DATA, "12", "10", BreachAction.PAUSE)
    sent = await fake.wait_for(lambda: fake.sent(CHAT), what="the risk alert")
    await asyncio.sleep(0.3)  # a state alert, if it were sent, would be out by now
    assert len(fake.sent(CHAT)) == 1
    assert "stale_data" in sent[0].text and sent[0].silent
    assert "PAUSED" not in joined(fake)


async def test_burst_is_paced_one_per_second_and_coalesced(
    fake: FakeTelegram, host: AgentHost, notify: Notify
) -> None:
    """Telegram's default pacing: at most one message per second per chat; a burst of 25
    alerts over 2.4 s arrives complete in a handful of messages."""
    n = await notify(host, rate_limit=RateLimit())
    await fake.wait_for(lambda: fake.of("deleteWebhook"), what="polling to start")
    for i in range(25):
        host.bus.emit(EventKind.ERROR, "ushark-mm", Severity.ERROR, code=f"e{i}", message="x")
        await asyncio.sleep(0.1)
    await fake.wait_for(lambda: n.stats.alerts_sent == 25, what="the whole burst")
    sent = fake.sent(CHAT)
    assert all(f"API error e{i}: x" in joined(fake) for i in range(25))
    assert 2 <= len(sent) <= 4
    gaps = [b.at - a.at for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= 0.99
    assert n.stats.coalesced >= 1


async def test_per_window_cap(fake: FakeTelegram, host: AgentHost, notify: Notify) -> None:
    """No more than `per_window` messages in any window, however the alerts trickle in."""
    await notify(host, rate_limit=RateLimit(min_interval=0.0, per_window=3, window=0.6))
    await fake.wait_for(lambda: fake.of("deleteWebhook"), what="polling to start")
    for i in range(12):
        host.bus.emit(EventKind.ERROR, "ushark-mm", Severity.ERROR, code=f"w{i}", message="x")
        await asyncio.sleep(0.1)
    await fake.wait_for(lambda: "w11: x" in joined(fake), what="all alerts")
    arrivals = [c.at for c in fake.sent(CHAT)]
    assert len(arrivals) < 12  # some were merged
    for a, b in zip(arrivals, arrivals[3:], strict=False):
        assert b - a >= 0.6 - 0.01


async def test_critical_alert_is_retried_through_errors_timeouts_and_429(
    fake: FakeTelegram, host: AgentHost, notify: Notify
) -> None:
    n = await notify(host, request_timeout=0.3, retry_base_seconds=0.1)
    await fake.wait_for(lambda: fake.of("deleteWebhook"), what="polling to start")
    fake.fail("sendMessage", status=502, count=2)
    fake.fail("sendMessage", delay=0.6)  # longer than the client's timeout
    fake.fail("sendMessage", retry_after=1)
    state(host, "RUNNING", "STOPPED", "kill switch")
    await fake.wait_for(lambda: fake.sent(CHAT), timeout=10, what="the kill switch alert")
    attempts = fake.of("sendMessage")
    statuses = [c.status for c in attempts]
    assert statuses[:2] == [502, 502] and statuses[3:] == [429, 200]  # [2] timed out
    assert "KILL SWITCH" in attempts[-1].text
    gaps = [b.at - a.at for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2  # exponential backoff
    assert gaps[3] >= 1.0  # retry_after honoured
    assert n.stats.retries == 4 and n.stats.sent == 1 and n.stats.failed == 0


async def test_routine_alert_is_given_up_after_a_few_attempts(
    fake: FakeTelegram, host: AgentHost, notify: Notify
) -> None:
    n = await notify(host)
    await fake.wait_for(lambda: fake.of("deleteWebhook"), what="polling to start")
    fake.fail("sendMessage", status=500, count=3)
    host.bus.emit(EventKind.ERROR, "ushark-mm", Severity.ERROR, code="x", message="routine")
    await fake.wait_for(lambda: n.stats.failed == 1, what="the routine alert to be given up")
    state(host, "RUNNING", "PAUSED")
    sent = await fake.wait_for(lambda: fake.sent(CHAT), what="the next alert")
    assert "PAUSED" in sent[0].text and "routine" not in sent[0].text
    assert len(fake.of("sendMessage")) == 4


async def test_full_queue_sheds_oldest_routine_keeps_criticals(
    fake: FakeTelegram, host: AgentHost, notify: Notify
) -> None:
    """While Telegram is unreachable alerts queue up; the oldest routine ones are shed and
    counted, the criticals all arrive first, and the chat is told how many were dropped."""
    fake.fail("getMe", status=502, count=3)
    n = await notify(host, queue_capacity=10)
    for i in range(50):
        host.bus.emit(EventKind.ERROR, "ushark-mm", Severity.ERROR, code=f"r{i}", message="x")
        if i % 20 == 0:
            state(host, "RUNNING", "ERROR", f"critical {i}")
    assert n.stats.dropped == 43
    sent = await fake.wait_for(lambda: fake.sent(CHAT), what="the backlog")
    text = sent[0].text
    assert text.index("critical 0") < text.index("critical 20") < text.index("critical 40")
    assert text.index("critical 40") < text.index("r43: x")
    assert "r42: x" not in text and "r49: x" in text
    assert text.endswith("(43 older alerts dropped: Telegram was too slow)")


async def test_stop_flushes_what_is_pending(fake: FakeTelegram, host: AgentHost) -> None:
    """Shutting the agent down still delivers the last alerts and fill digest (bounded)."""
    cfg = tg_config(fake, fill_digest_seconds=3600, levels={"fill": "on"})
    n = TelegramNotifier(host, cfg, TOKEN, rate_limit=FAST, retry_base_seconds=0.05)
    await n.start()
    await fake.wait_for(lambda: fake.of("deleteWebhook"), what="polling to start")
    fake.fail("sendMessage", status=503)
    fill(host, "sell", "0.0021", "1000")
    state(host, "RUNNING", "STOPPED", "agent shutting down")
    await n.stop(flush_seconds=5.0)
    text = joined(fake)
    assert "STOPPED (was RUNNING)" in text and "💱 ushark-mm · USHARK/USDT: 1 fill" in text
    assert n.stats.retries == 1


# ---------------------------------------------------------------------- commands


async def test_commands_from_allowed_chat_and_foreign_chat_is_ignored_and_logged_once(
    fake: FakeTelegram, host: AgentHost, notify: Notify, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    n = await notify(host)
    await host.command("ushark-mm", "start")
    for text in ("/status", "/stop", "/pause"):
        fake.inject_message(FOREIGN, text)
    help_reply = await command(fake, "/help")
    assert "/cancelall" in help_reply.text and "/status" in help_reply.text
    status = await command(fake, "/status")
    assert status.text.startswith("▶️ ushark-mm · USHARK/USDT: RUNNING")
    assert "inventory" in status.text and "USDT" in status.text
    paused = await command(fake, "/pause")
    assert paused.text == "⏸ paused: ushark-mm is PAUSED"
    assert host.bots["ushark-mm"].bot.state is BotState.PAUSED
    again = await command(fake, "/pause")
    assert again.text.startswith("❌ ushark-mm: cannot pause while PAUSED")
    unknown = await command(fake, "/status nobot")
    assert unknown.text == "No bot named 'nobot'. Bots: ushark-mm"
    assert fake.sent(FOREIGN) == []
    ignored = [r for r in caplog.records if "ignoring updates from chat 999" in r.getMessage()]
    assert len(ignored) == 1
    assert n.stats.ignored_updates == 3


async def test_confirmation_flow(fake: FakeTelegram, host: AgentHost, notify: Notify) -> None:
    await notify(host)
    await host.command("ushark-mm", "start")
    bot = host.bots["ushark-mm"].bot
    ask = await command(fake, "/stop")
    assert ask.text.startswith("Stop ushark-mm (USHARK/USDT)?")
    assert [label for label, _ in ask.buttons()] == ["✅ Stop", "✖️ No"]
    no = await press(fake, ask, "No")
    assert no.text == "/stop: cancelled, nothing was done."
    assert bot.state is BotState.RUNNING
    # A button pressed in another chat (forwarded keyboard) does nothing.
    fake.inject_callback(FOREIGN, ask.message_id, ask.buttons()[0][1])
    ask = await command(fake, "/stop")
    done = await press(fake, ask, "Stop")
    assert done.text == "⏹ stopped: ushark-mm is STOPPED"
    assert bot.state is BotState.STOPPED
    assert fake.of("answerCallbackQuery")
    replay = await press(fake, ask, "Stop")
    assert replay.text == "Expired: send the command again."
    ask = await command(fake, "/resume")
    refused = await press(fake, ask, "Resume")
    assert refused.text.startswith("❌ ushark-mm: cannot resume while STOPPED")
    ask = await command(fake, "/cancelall")
    cancelled = await press(fake, ask, "Cancel all")
    assert cancelled.text == "🧹 all orders cancelled: ushark-mm is STOPPED"


async def test_several_bots_pick_one_then_confirm(
    fake: FakeTelegram, tmp_path: Path, notify: Notify
) -> None:
    h = await make_host(tmp_path, "alpha", "beta")
    try:
        await notify(h)
        await h.command("alpha", "start")
        await h.command("beta", "start")
        ask = await command(fake, "/stop")
        assert ask.text == "/stop: which bot?"
        assert [label for label, _ in ask.buttons()] == ["alpha", "beta", "✖️ Cancel"]
        confirm = await press(fake, ask, "beta")
        assert confirm.text.startswith("Stop beta (USHARK/USDT)?")
        edited = Call("sendMessage", confirm.params, confirm.at, 200, confirm.result)
        done = await press(fake, edited, "Stop")
        assert done.text == "⏹ stopped: beta is STOPPED"
        assert h.bots["beta"].bot.state is BotState.STOPPED
        assert h.bots["alpha"].bot.state is BotState.RUNNING
        status = await command(fake, "/status")
        assert "alpha · USHARK/USDT: RUNNING" in status.text
        assert "beta · USHARK/USDT: STOPPED" in status.text
    finally:
        await h.close()


# ---------------------------------------------------------------------- daily report


async def test_daily_report_at_the_configured_utc_time(
    fake: FakeTelegram, tmp_path: Path, notify: Notify
) -> None:
    report_at = datetime(2026, 11, 24, 7, 30, tzinfo=UTC).timestamp()
    h = await make_host(tmp_path, "ushark-mm", epoch=report_at - 1.0)
    try:
        await notify(h, tg_config(fake, daily_report_utc="07:30", levels={"fill": "off"}))
        fill(h, "buy", "0.002", "10000", fee="0.02")
        fill(h, "sell", "0.0021", "10000", fee="0.021")
        breach(h, RiskRule.PRICE_DEVIATION, "21.3", "5", BreachAction.PAUSE)
        breach(h, RiskRule.DAILY_LOSS, "61", "50", BreachAction.STOP)
        text = await fake.wait_for(
            lambda: next((t for t in fake.texts(CHAT) if "Daily report" in t), None),
            what="the daily report",
        )
        assert text.startswith("📊 Daily report 2026-11-24 07:30 UTC · ushark-mm · USHARK/USDT")
        assert "state INIT · quoting 0 % of running time · agent up 1 s" in text
        assert "last 1 s: 2 fills, volume 41.00 USDT, fees 0.041 USDT" in text
        assert "PnL 0.00 USDT · since bot start 0.00 USDT" in text
        assert "inventory 0 USHARK + 0.00 USDT" in text  # not started: nothing synced yet
        assert "breaches: 2 (price_deviation → PAUSE, daily_loss → STOP)" in text
        assert "💱" not in joined(fake)  # fills at level off: no digest
    finally:
        await h.close()


# ---------------------------------------------------------------------- a real bot


async def test_real_bot_state_alerts_breach_and_resume_from_telegram(
    fake: FakeTelegram, host: AgentHost, notify: Notify
) -> None:
    """The acceptance path on the sim venue: the chat hears the bot start, a breach and the
    pause it caused; /resume (confirmed) from the allowed chat resumes the bot."""
    await notify(host, tg_config(fake, fill_digest_seconds=1), rate_limit=RateLimit())
    await fake.wait_for(lambda: fake.of("deleteWebhook"), what="polling to start")
    loop = asyncio.get_running_loop()
    emitted: dict[str, float] = {}

    def note_state(ev: Event) -> None:
        if ev.kind is EventKind.STATE:
            emitted.setdefault(str(ev.data.get("to")), loop.time())

    host.bus.subscribe(note_state)
    await host.command("ushark-mm", "start")
    running = await fake.wait_for(
        lambda: [c for c in fake.sent(CHAT) if "RUNNING (was START_QUOTING)" in c.text],
        what="the RUNNING alert",
    )
    latency_start = running[0].at - emitted["RUNNING"]
    t1 = loop.time()
    # The bot's own breach path (a flash crash takes minutes of real time on the simulator):
    # it emits the risk event and pauses the bot.
    bot = host.bots["ushark-mm"].bot
    await bot._on_breach(
        Breach(RiskRule.PRICE_DEVIATION, Decimal("21.3"), Decimal(5), BreachAction.PAUSE, 0.0)
    )
    assert bot.state is BotState.PAUSED
    await fake.wait_for(
        lambda: (
            "risk breach price_deviation" in joined(fake)
            and "PAUSED (was RUNNING)\nreason: risk: price_deviation 21.3 > 5" in joined(fake)
        ),
        what="the breach and pause alerts",
    )
    latency_breach = fake.sent(CHAT)[-1].at - t1
    ask = await command(fake, "/resume")
    done = await press(fake, ask, "Resume")
    assert done.text == "▶️ resumed: ushark-mm is RUNNING"
    assert host.bots["ushark-mm"].bot.state is BotState.RUNNING
    await fake.wait_for(lambda: "RUNNING (was PAUSED)" in joined(fake), what="the resume alert")
    print(f"alert latency: start {latency_start:.3f} s, breach+pause {latency_breach:.3f} s")


# ---------------------------------------------------------------------- secrets


async def test_token_never_appears_in_logs(
    fake: FakeTelegram, host: AgentHost, notify: Notify, caplog: pytest.LogCaptureFixture
) -> None:
    """A full run (connect, alerts, errors, commands, a rejected token, shutdown) with every
    logger at DEBUG, including httpx, which logs each request URL (token in its path)."""
    caplog.set_level(logging.DEBUG)
    httpx_logger = logging.getLogger("httpx")
    old = httpx_logger.level
    httpx_logger.setLevel(logging.DEBUG)
    try:
        fake.fail("getMe", status=502)
        n = await notify(host)
        await fake.wait_for(lambda: fake.of("deleteWebhook"), what="polling to start")
        fake.fail("sendMessage", status=500)
        state(host, "RUNNING", "STOPPED")
        await fake.wait_for(lambda: fake.sent(CHAT), what="the alert")
        await command(fake, "/status")
        await n.stop()
        bad = TelegramConfig(enabled=True, chat_ids=[CHAT], api_base_url=fake.url)
        wrong = TOKEN[:-4] + "XXXX"
        with pytest.raises(NotifyError):
            await send_test_message(bad, wrong)
        n2 = TelegramNotifier(host, bad, wrong, retry_base_seconds=0.05)
        await n2.start()
        await fake.wait_for(lambda: any(c.status != 200 for c in fake.of("getMe")))
        await asyncio.sleep(0.1)
        await n2.stop(flush_seconds=0)
    finally:
        httpx_logger.setLevel(old)
    text = caplog.text
    assert caplog.records and "HTTP Request: POST" in text
    assert TOKEN not in text and wrong not in text
    assert all(TOKEN not in r.getMessage() and wrong not in r.getMessage() for r in caplog.records)
    assert "<redacted>" in text


async def test_send_test_message(fake: FakeTelegram) -> None:
    cfg = tg_config(fake, chat_ids=[CHAT, OTHER_CHAT])
    await send_test_message(cfg, TOKEN)
    assert [c.chat_id for c in fake.sent()] == [CHAT, OTHER_CHAT]
    assert all("mmbot test message" in c.text for c in fake.sent())
    with pytest.raises(NotifyError, match="rejected the bot token") as bad:
        await send_test_message(cfg, "1:wrong")
    assert "1:wrong" not in str(bad.value)
    with pytest.raises(NotifyError, match="chat_ids is empty"):
        await send_test_message(tg_config(fake, enabled=False, chat_ids=[]), TOKEN)
    await fake.close()
    with pytest.raises(NotifyError, match="not reachable") as down:
        await send_test_message(cfg, TOKEN, timeout=1.0)
    assert TOKEN not in str(down.value)
