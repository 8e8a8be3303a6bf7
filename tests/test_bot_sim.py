"""The bot, its order manager and lifecycle against the simulated venue (virtual clock)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent.bot import Bot
from agent.config import BotConfig
from agent.events import Event, EventKind
from agent.lifecycle import BotState, InvalidCommand
from agent.model import Side
from agent.orders import OrderState
from agent.venues.sim import SimVenue
from tests.simrun import START, example_config, run_bot, settled, venue_open_ids

_run = run_bot
_settled = settled
_venue_open_ids = venue_open_ids


def _config(**mm: Any) -> BotConfig:
    return example_config(market_making=mm) if mm else example_config()


def _bot_live_ids(bot: Bot) -> set[str]:
    assert bot.om is not None
    return {o.client_order_id for o in bot.om.active() if o.state is not OrderState.PENDING_NEW}


def test_lifecycle_quotes_fills_pauses_resumes_stops() -> None:
    seen: dict[str, Any] = {}

    async def body(bot: Bot, venue: SimVenue, events: list[Event]) -> None:
        await asyncio.sleep(300)
        assert bot.state is BotState.RUNNING
        seen["fills_running"] = bot.ledger.fills
        await _settled(bot)
        seen["bids_asks"] = bot.om.live_counts() if bot.om else (0, 0)
        # bot's view equals the venue's view of our open orders
        seen["consistent"] = (_bot_live_ids(bot), _venue_open_ids(venue))
        assert await bot.pause() is BotState.PAUSED
        seen["open_after_pause"] = _venue_open_ids(venue)
        await asyncio.sleep(30)
        seen["open_while_paused"] = _venue_open_ids(venue)
        assert await bot.resume() is BotState.RUNNING
        await asyncio.sleep(5)
        await _settled(bot)
        seen["open_after_resume"] = len(_venue_open_ids(venue))
        assert await bot.stop() is BotState.STOPPED
        seen["open_after_stop"] = _venue_open_ids(venue)
        with pytest.raises(InvalidCommand, match="cannot resume while STOPPED"):
            await bot.resume()
        with pytest.raises(InvalidCommand, match="cannot pause while STOPPED"):
            await bot.pause()

    _bot, venue, events = _run(body)
    assert seen["fills_running"] > 0
    assert seen["bids_asks"] == (10, 10)
    mine, theirs = seen["consistent"]
    assert mine == theirs
    assert seen["open_after_pause"] == set()
    assert seen["open_while_paused"] == set()
    assert seen["open_after_resume"] == 20
    assert seen["open_after_stop"] == set()
    transitions = [(e.data["from"], e.data["to"]) for e in events if e.kind is EventKind.STATE]
    assert transitions == [
        ("INIT", "SYNC_BALANCES"),
        ("SYNC_BALANCES", "START_QUOTING"),
        ("START_QUOTING", "RUNNING"),
        ("RUNNING", "PAUSED"),
        ("PAUSED", "RUNNING"),
        ("RUNNING", "STOPPED"),
    ]
    assert venue.self_trades == 0
    # Every event has a strictly increasing seq and a timestamp on the virtual clock.
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(START <= e.at <= START + 400 for e in events)


def test_ledger_matches_venue_balances_exactly_with_partial_fills() -> None:
    async def body(bot: Bot, venue: SimVenue, events: list[Event]) -> None:
        await asyncio.sleep(600)
        await bot.stop()

    bot, venue, events = _run(body, seed=5)
    fills = [e for e in events if e.kind is EventKind.FILL]
    partial = [
        e for e in events if e.kind is EventKind.ORDER and e.data["status"] == "PARTIALLY_FILLED"
    ]
    assert fills and partial, "the run must include partial fills"
    bal = venue.engine.balances("bot")
    assert bot.ledger.base == bal["USHARK"].total
    assert bot.ledger.quote == bal["USDT"].total
    assert bot.ledger.fills == len(fills) == len(venue.engine.trades("bot"))


def test_partial_fill_updates_inventory_before_the_order_event() -> None:
    """The fill event (inventory) comes before the order's PARTIALLY_FILLED/FILLED event."""

    async def body(bot: Bot, venue: SimVenue, events: list[Event]) -> None:
        await asyncio.sleep(300)

    _, _, events = _run(body, seed=7)
    last_fill_seq: dict[str, int] = {}
    checked = 0
    for e in events:
        if e.kind is EventKind.FILL:
            last_fill_seq[e.data["client_order_id"]] = e.seq
        elif e.kind is EventKind.ORDER and e.data["status"] in ("PARTIALLY_FILLED", "FILLED"):
            assert last_fill_seq.get(e.data["client_order_id"], 10**9) < e.seq
            checked += 1
    assert checked > 0


def test_rejects_are_recorded_and_quoting_recovers() -> None:
    async def body(bot: Bot, venue: SimVenue, events: list[Event]) -> None:
        await asyncio.sleep(5)
        await bot.pause()
        venue.faults.reject_next_creates = 5
        await bot.resume()
        await asyncio.sleep(30)
        await _settled(bot)

    bot, _venue, events = _run(body)
    rejected = [e for e in events if e.kind is EventKind.ORDER and e.data["status"] == "REJECTED"]
    assert len(rejected) == 5
    assert all("REJECTED" in e.data["reason"] for e in rejected)
    assert bot.om is not None and bot.om.stats["rejects"] == 5
    assert bot.om.live_counts() == (10, 10)  # the rejected levels were placed again
    assert bot.state is BotState.RUNNING


def test_create_timeout_is_reconciled_not_resubmitted() -> None:
    seen: dict[str, Any] = {}

    async def body(bot: Bot, venue: SimVenue, events: list[Event]) -> None:
        await asyncio.sleep(5)
        await bot.pause()
        venue.faults.timeout_next_creates = 1
        seen["from"] = len(events)
        await bot.resume()
        await asyncio.sleep(10)
        await _settled(bot)

    bot, venue, events = _run(body)
    after = events[seen["from"] :]
    assert any(e.kind is EventKind.ERROR and e.data["code"] == "create_timeout" for e in after)
    first_batch = [
        e.data["client_order_id"]
        for e in after
        if e.kind is EventKind.ORDER and e.data["status"] == "PENDING_NEW"
    ][:10]
    assert bot.om is not None
    # The venue did receive them; they are known to the bot as placed, never sent twice.
    for cid in first_batch:
        o = bot.om.get(cid)
        assert o is not None and o.state is not OrderState.REJECTED
    venue_prices = [(o.side, o.price) for o in venue.engine.open_orders("bot")]
    assert len(venue_prices) == len(set(venue_prices))
    assert _bot_live_ids(bot) == _venue_open_ids(venue)
    assert bot.om.live_counts() == (10, 10)


def test_network_failure_on_create_is_a_known_failure() -> None:
    async def body(bot: Bot, venue: SimVenue, events: list[Event]) -> None:
        await asyncio.sleep(5)
        await bot.pause()
        venue.faults.fail_next_calls = 1
        await bot.resume()
        await asyncio.sleep(20)
        await _settled(bot)

    bot, venue, events = _run(body)
    errors = [e for e in events if e.kind is EventKind.ERROR]
    assert any(e.data["code"] in ("create_failed", "cancel_failed") for e in errors)
    assert bot.om is not None and bot.om.live_counts() == (10, 10)
    assert _bot_live_ids(bot) == _venue_open_ids(venue)


def test_kill_cancels_everything_and_needs_an_explicit_restart() -> None:
    seen: dict[str, Any] = {}

    async def body(bot: Bot, venue: SimVenue, events: list[Event]) -> None:
        await asyncio.sleep(20)
        await bot.kill()
        seen["after_kill"] = (bot.state, _venue_open_ids(venue), bot.killed)
        await asyncio.sleep(20)
        seen["still"] = _venue_open_ids(venue)
        await bot.start()
        await asyncio.sleep(5)
        await _settled(bot)
        seen["restarted"] = (bot.state, len(_venue_open_ids(venue)))

    _run(body)
    assert seen["after_kill"] == (BotState.STOPPED, set(), True)
    assert seen["still"] == set()
    assert seen["restarted"] == (BotState.RUNNING, 20)


def test_own_orders_never_cross_and_respect_market_rules() -> None:
    async def body(bot: Bot, venue: SimVenue, events: list[Event]) -> None:
        for _ in range(60):
            await asyncio.sleep(5)
            mine = venue.engine.open_orders("bot")
            bids = [o.price for o in mine if o.side is Side.BUY]
            asks = [o.price for o in mine if o.side is Side.SELL]
            if bids and asks:
                assert max(bids) < min(asks)

    bot, venue, events = _run(body, scenario="volatile")
    rules = bot.rules
    assert rules is not None
    for e in events:
        if e.kind is EventKind.ORDER and e.data["status"] == "PENDING_NEW":
            assert rules.fits(e.data["price"], e.data["amount"])
            assert e.data["post_only"] is True
    assert venue.self_trades == 0
