"""End to end in real time: `Bot` + `CcxtVenue` (real ccxt/ccxt.pro) against the Gate emulator
over 127.0.0.1 HTTP/WebSocket, first clean, then with every fault injected. This is what
`mmbot agent run --venue gate` does once `agent.runner.make_venue` knows ccxt venues."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Any

import pytest

from agent.bot import Bot
from agent.clock import Clock
from agent.config import BotConfig, load_config
from agent.events import Event, EventBus, EventKind
from agent.exchange_sim import ExchangeEmulator
from agent.lifecycle import BotState
from agent.orders import OrderState
from agent.venues.ccxt_venue import CcxtVenue
from agent.venues.sim.scenarios import load_scenario
from tests.test_gate_helpers import KEY, SECRET, admin, emulator_config, make_venue, wait_for

CLEAN_RUN_SECONDS = 15.0


def _config() -> BotConfig:
    return load_config("examples/ushark-gate.yaml")


def _busy_scenario() -> Any:
    """calm, with takers arriving four times as often, so a short run sees fills."""
    s = load_scenario("calm")
    return s.model_copy(update={"takers": s.takers.model_copy(update={"rate_per_second": 1.0})})


def _assert_clean_end(emu: ExchangeEmulator, bot: Bot) -> None:
    ex = emu.exchange
    assert ex is not None
    acct = ex.account(KEY)
    assert acct is not None
    # no orphan: nothing of ours is left open on the venue after stop + reconciliation
    assert ex.open_orders(acct) == []
    # no duplicate: every client order id reached the venue at most once
    texts = Counter(o.text for o in [*acct.closed, *ex.open_orders(acct)])
    assert texts and max(texts.values()) == 1
    assert emu.stats()["self_trades"] == 0
    assert bot.om is not None
    assert not [o for o in bot.om.active() if not o.terminal]


async def _run_bot(emu: ExchangeEmulator, venue: CcxtVenue, events: list[Event]) -> Bot:
    clock = Clock(asyncio.get_running_loop())
    bus = EventBus(clock.now)
    bus.subscribe(events.append)
    bot = Bot(_config(), venue, bus, clock)
    await venue.start()
    assert venue.check_config(bot.config) == []
    await bot.start()
    assert bot.state is BotState.RUNNING
    return bot


async def _settled(bot: Bot, limit: float = 15.0) -> None:
    assert bot.om is not None
    om = bot.om
    await wait_for(
        lambda: (
            not any(
                o.state in (OrderState.PENDING_NEW, OrderState.PENDING_CANCEL) for o in om.active()
            )
        ),
        limit,
    )


async def test_bot_quotes_and_fills_through_ccxt(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    events: list[Event] = []
    async with ExchangeEmulator(emulator_config(scenario=_busy_scenario(), seed=4)) as emu:
        venue = make_venue(emu)
        bot = await _run_bot(emu, venue, events)
        try:
            await asyncio.sleep(CLEAN_RUN_SECONDS)
            await _settled(bot)
            assert bot.om is not None and bot.om.live_counts() == (10, 10)
            assert bot.ledger.fills > 0
            ex = emu.exchange
            assert ex is not None
            acct = ex.account(KEY)
            assert acct is not None
            venue_open = {o.text.removeprefix("t-") for o in ex.open_orders(acct)}
            mine = {o.client_order_id for o in bot.om.active() if o.live}
            assert mine == venue_open
            await bot.stop()
            await asyncio.sleep(0.5)  # late fills of the last cancels settle
            bal = {r["currency"]: r for r in ex.balances(acct)}
            assert bot.ledger.quote == _total(bal["USDT"])
            assert bot.ledger.base == _total(bal["USHARK"])
            assert bot.ledger.fills == len(acct.trades)
            _assert_clean_end(emu, bot)
        finally:
            await bot.close()
            await venue.close()
    # secrets are write-only: neither the logs nor any event carries the API secret
    assert SECRET not in caplog.text
    assert all(SECRET not in e.to_json() for e in events)
    assert not [e for e in events if e.kind is EventKind.ERROR]


def _total(row: dict[str, str]) -> Any:
    from decimal import Decimal

    return Decimal(row["available"]) + Decimal(row["locked"])


async def test_bot_survives_every_fault() -> None:
    events: list[Event] = []
    async with ExchangeEmulator(emulator_config(scenario=_busy_scenario(), seed=5)) as emu:
        venue = make_venue(emu, stale_after=2.0, probe_every=0.5, timeout_ms=2000)
        bot = await _run_bot(emu, venue, events)

        def codes(since: int) -> list[tuple[str, str]]:
            return [
                (str(e.data.get("code")), str(e.data.get("stream", "")))
                for e in events[since:]
                if e.kind in (EventKind.ERROR, EventKind.WARNING)
            ]

        try:
            await asyncio.sleep(3)
            await _settled(bot)

            # 1. the book feed goes silent: detected by the REST probe, reported down, and
            #    rebuilt from a fresh snapshot once the feed is back
            mark = len(events)
            await admin(emu, "/_sim/faults", {"stall_book": True})
            await wait_for(lambda: ("stream_down", "book") in codes(mark), 10)
            assert not bot.stream_up
            await admin(emu, "POST /_sim/faults/reset")
            await wait_for(lambda: ("stream_up", "book") in codes(mark), 10)
            assert bot.stream_up

            # 2. every WebSocket is cut: streams go down, reconnect with backoff, come back
            mark = len(events)
            books_before = _book_count(venue)
            await admin(emu, "POST /_sim/ws/drop")
            await wait_for(lambda: any(c == "stream_down" for c, _ in codes(mark)), 10)
            await wait_for(lambda: ("stream_up", "book") in codes(mark), 15)
            await wait_for(lambda: _book_count(venue) > books_before + 2, 10)
            assert emu.hub is not None and emu.hub.stats["ws_connections"] >= 2

            # 3. a gap in the book ids: ccxt alone would apply it; we resubscribe
            mark = len(events)
            await admin(emu, "/_sim/faults", {"book_gap_next": 1})
            await wait_for(lambda: ("stream_down", "book") in codes(mark), 10)
            await wait_for(lambda: ("stream_up", "book") in codes(mark), 10)

            # 4. a 429 storm: we back off (fewer requests than the storm could take), no ban
            req0 = emu.stats().get("status_429", 0)
            await bot.pause()
            await admin(emu, "/_sim/faults", {"storm_429_until": time.time() + 3})
            await bot.resume()
            await asyncio.sleep(4)
            storm_429s = emu.stats().get("status_429", 0) - req0
            assert venue.budget.counters["rate_limited"] >= 1
            assert 1 <= storm_429s <= 15, storm_429s
            assert emu.stats()["bans"] == 0
            await _settled(bot)
            assert bot.om is not None and bot.om.live_counts() == (10, 10)

            # 5. an order is accepted but the answer is lost: in flight, reconciled, never
            #    re-sent (the client-id uniqueness check at the end proves it)
            mark = len(events)
            await bot.pause()
            await admin(emu, "/_sim/faults", {"accept_then_timeout_next": 1, "hang_seconds": 3})
            await bot.resume()
            await wait_for(lambda: any(c == "create_timeout" for c, _ in codes(mark)), 10)
            await _settled(bot, 20)
            assert bot.om.live_counts() == (10, 10)

            # 6. 5xx and hung REST calls: known failures / unknown outcomes, then recovery
            await bot.pause()
            await admin(emu, "/_sim/faults", {"rest_fail_next": 2, "rest_timeout_next": 1})
            await bot.resume()
            await asyncio.sleep(4)
            await admin(emu, "POST /_sim/faults/reset")
            await _settled(bot, 20)
            assert bot.om.live_counts() == (10, 10)
            assert bot.state is BotState.RUNNING

            await bot.stop()
            _assert_clean_end(emu, bot)
        finally:
            await bot.close()
            await venue.close()


def _book_count(venue: CcxtVenue) -> int:
    return venue.stream_counts["book"]
