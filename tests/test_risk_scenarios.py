"""Risk engine scenarios on the simulator: exact state transitions and their timing."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from agent.bot import Bot
from agent.events import Event, EventBus, EventKind
from agent.lifecycle import BotState
from agent.venues.sim import SimVenue
from tests.simrun import START, example_config, run_bot, venue_open_ids


def _transitions(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.data["from"], e.data["to"]) for e in events if e.kind is EventKind.STATE]


def _breaches(events: list[Event]) -> list[Event]:
    return [e for e in events if e.kind is EventKind.RISK and e.data.get("code") == "breach"]


def _watch_flat_after_breach(record: list[tuple[float, int]]) -> Any:
    """After every breach, count the bot's open orders on the venue 1 s later."""

    def attach(bus: EventBus, bot: Bot, venue: SimVenue) -> None:
        def on_event(ev: Event) -> None:
            if ev.kind is EventKind.RISK and ev.data.get("code") == "breach":
                loop = asyncio.get_running_loop()
                loop.call_later(1.0, lambda: record.append((ev.at, len(venue_open_ids(venue)))))

        bus.subscribe(on_event)

    return attach


def test_flash_crash_breach_cancels_everything_within_one_second() -> None:
    flat: list[tuple[float, int]] = []
    cfg = example_config(risk={"auto_resume_after_seconds": 0})

    async def body(bot: Bot, venue: SimVenue, events: list[Event]) -> None:
        await asyncio.sleep(400)

    bot, venue, events = run_bot(
        body, scenario="flash-crash", config=cfg, on_bus=_watch_flat_after_breach(flat)
    )
    breaches = _breaches(events)
    assert breaches, "the crash must breach the price rule"
    first = breaches[0]
    assert first.data["rule"] in ("price_move", "price_deviation")
    assert first.data["action"] == "PAUSE"
    assert first.data["value"] > first.data["limit"]
    # the crash starts at T+120 s; the per-minute move exceeds 5 % within the 30 s fall
    assert START + 120 < first.at < START + 150
    assert flat and all(n == 0 for _, n in flat)
    assert ("RUNNING", "PAUSED") in _transitions(events)
    # manual resume only (auto_resume_after_seconds: 0): no order after the pause
    pause_seq = next(
        e.seq for e in events if e.kind is EventKind.STATE and e.data["to"] == "PAUSED"
    )
    later_orders = [
        e
        for e in events
        if e.kind is EventKind.ORDER and e.seq > pause_seq and e.data["status"] == "PENDING_NEW"
    ]
    if bot.state is BotState.PAUSED:
        assert later_orders == []
    assert venue.self_trades == 0


def test_feed_stall_pauses_within_limit_and_resumes_when_fresh() -> None:
    cfg = example_config(risk={"stale_data_seconds": 5, "auto_resume_after_seconds": 10})
    marks: dict[str, float] = {}

    async def body(bot: Bot, venue: SimVenue, events: list[Event]) -> None:
        await asyncio.sleep(30)
        venue.faults.stall_market_data = True
        marks["stall"] = bot.clock.now()
        last_book = bot.book.at if bot.book else 0.0
        marks["last_book"] = last_book
        await asyncio.sleep(20)
        marks["paused_state"] = 1.0 if bot.state is BotState.PAUSED else 0.0
        marks["open_while_stale"] = float(len(venue_open_ids(venue)))
        venue.faults.stall_market_data = False
        marks["unstall"] = bot.clock.now()
        await asyncio.sleep(30)

    bot, _venue, events = run_bot(body, config=cfg)
    stale = [b for b in _breaches(events) if b.data["rule"] == "stale_data"]
    assert len(stale) == 1
    # quoting stops within stale_data_seconds + 1 s of the last fresh update
    paused = next(e for e in events if e.kind is EventKind.STATE and e.data["to"] == "PAUSED")
    assert paused.at - marks["last_book"] <= 5 + 1
    assert marks["paused_state"] == 1.0 and marks["open_while_stale"] == 0
    resumed = [
        e
        for e in events
        if e.kind is EventKind.STATE and e.data["to"] == "RUNNING" and e.at > marks["unstall"]
    ]
    assert resumed, "auto-resume after fresh data"
    assert resumed[0].at - marks["unstall"] >= 10 - 1  # waits auto_resume_after_seconds
    assert "auto-resume" in resumed[0].data["reason"]
    assert bot.state is BotState.RUNNING
    assert _transitions(events)[-2:] == [("RUNNING", "PAUSED"), ("PAUSED", "RUNNING")]


def test_burst_of_venue_errors_pauses() -> None:
    cfg = example_config(risk={"max_api_errors_per_minute": 5, "auto_resume_after_seconds": 0})

    async def body(bot: Bot, venue: SimVenue, events: list[Event]) -> None:
        await asyncio.sleep(20)
        await bot.pause()
        venue.faults.fail_next_calls = 8
        await bot.resume()  # the re-quote burst and what follows now fail
        await asyncio.sleep(20)

    bot, venue, events = run_bot(body, config=cfg)
    api = [b for b in _breaches(events) if b.data["rule"] == "api_errors"]
    assert len(api) == 1 and api[0].data["value"] > 5
    assert _transitions(events)[-1] == ("RUNNING", "PAUSED")
    assert bot.state is BotState.PAUSED
    assert venue_open_ids(venue) == set()


def test_daily_loss_stops_and_nothing_trades_until_restart() -> None:
    cfg = example_config(risk={"max_daily_loss": Decimal("0.5")})
    marks: dict[str, Any] = {}

    async def body(bot: Bot, venue: SimVenue, events: list[Event]) -> None:
        for _ in range(120):
            await asyncio.sleep(5)
            if bot.state is BotState.STOPPED:
                break
        marks["stopped_at_seq"] = events[-1].seq
        await asyncio.sleep(60)
        marks["after_wait"] = (bot.state, len(venue_open_ids(venue)))
        await bot.start()
        await asyncio.sleep(10)
        marks["restarted"] = bot.state

    _bot, _venue, events = run_bot(body, scenario="flash-crash", config=cfg, seed=0)
    loss = [b for b in _breaches(events) if b.data["rule"] == "daily_loss"]
    assert len(loss) >= 1 and loss[0].data["action"] == "STOP"
    assert marks["after_wait"] == (BotState.STOPPED, 0)
    # no order was sent between the STOP and the explicit restart
    restart = next(e.seq for e in events if e.kind is EventKind.STATE and e.data["to"] == "INIT")
    stop = next(e.seq for e in events if e.kind is EventKind.STATE and e.data["to"] == "STOPPED")
    sent = [
        e
        for e in events
        if e.kind is EventKind.ORDER
        and stop < e.seq < restart
        and e.data["status"] == "PENDING_NEW"
    ]
    assert sent == []
    assert marks["restarted"] in (BotState.RUNNING, BotState.STOPPED)


def test_utc_day_rollover_resets_daily_counters() -> None:
    day_end = 1_800_057_600.0  # 2027-01-16T00:00:00Z
    cfg = example_config(risk={"max_api_errors_per_minute": 1000})
    seen: dict[str, Any] = {}

    async def body(bot: Bot, venue: SimVenue, events: list[Event]) -> None:
        await bot.pause()
        venue.faults.fail_next_calls = 3
        await bot.resume()
        await asyncio.sleep(60)
        assert bot.risk is not None
        seen["before"] = (bot.risk.api_errors_today, bot.risk.day)
        await asyncio.sleep(day_end - bot.clock.now() + 5)
        seen["after"] = (bot.risk.api_errors_today, bot.risk.day)
        seen["pnl_day_after"] = bot.ledger.pnl_day(bot.mid) if bot.mid else None

    _bot, _venue, events = run_bot(body, config=cfg, start=day_end - 120)
    errors_before, day_before = seen["before"]
    errors_after, day_after = seen["after"]
    assert errors_before >= 1
    assert errors_after == 0 and day_after == day_before + 1
    new_day = [e for e in events if e.kind is EventKind.RISK and e.data.get("code") == "new_day"]
    assert len(new_day) == 1 and day_end <= new_day[0].at < day_end + 1
    assert abs(seen["pnl_day_after"]) < 5  # daily PnL restarted from the rollover
