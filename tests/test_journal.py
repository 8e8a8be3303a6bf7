"""The journal: events with seq, projections of orders and fills, configs, recovery."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agent.clock import Clock, run
from agent.config import BotConfig
from agent.events import EventBus, EventKind, Severity
from agent.host import AgentHost
from agent.journal import Journal
from agent.lifecycle import BotState
from agent.venues.sim import SimVenue, load_scenario
from tests.simrun import START, example_config


def test_events_orders_and_fills_are_projected_and_paged(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    bus = EventBus(lambda: 100.0, first_seq=j.last_seq() + 1)
    bus.subscribe(j, durable=True)
    order = {
        "client_order_id": "c1",
        "venue_order_id": "",
        "side": "buy",
        "price": Decimal("0.001"),
        "amount": Decimal(5000),
        "filled": Decimal(0),
        "status": "PENDING_NEW",
        "post_only": True,
        "tag": "grid",
        "reason": "",
    }
    bus.emit(EventKind.ORDER, "b", Severity.DEBUG, **order)
    with bus.batch():
        bus.emit(
            EventKind.ORDER,
            "b",
            Severity.DEBUG,
            **{**order, "status": "OPEN", "venue_order_id": "77"},
        )
        fill = {
            "client_order_id": "c1",
            "trade_id": "t1",
            "side": "buy",
            "price": Decimal("0.001"),
            "amount": Decimal(2000),
            "fee": Decimal(2),
            "fee_asset": "USHARK",
            "liquidity": "maker",
        }
        bus.emit(EventKind.FILL, "b", Severity.INFO, **fill)
        bus.emit(EventKind.FILL, "b", Severity.INFO, **fill)  # re-delivered: harmless
    bus.emit(
        EventKind.STATE,
        "b",
        Severity.INFO,
        **{"from": "INIT", "to": "SYNC_BALANCES"},
        reason="start",
    )
    assert j.last_seq() == 5
    assert [e.seq for e in j.events(0)] == [1, 2, 3, 4, 5]
    assert [e.seq for e in j.events(2, limit=2)] == [3, 4]
    assert [e.seq for e in j.events(0, kinds=["fill"])] == [3, 4]
    assert [e.seq for e in j.events(0, min_severity=Severity.INFO)] == [3, 4, 5]
    (o,) = j.orders("b")
    assert (o.status, o.venue_order_id, o.price) == ("OPEN", "77", Decimal("0.001"))
    assert len(j.fills("b")) == 1 and j.trade_ids("b") == {"t1"}
    assert j.fills("b")[0]["amount"] == "2000"
    assert j.bots() == {}  # no config yet
    v1 = j.add_config("b", {"x": 1}, "me", "first", 1.0)
    v2 = j.add_config("b", {"x": 2}, "me", "second", 2.0)
    assert (v1, v2) == (1, 2) and j.latest_config("b") == (2, {"x": 2})
    assert j.config_version("b", 1) == {"x": 1}
    assert j.bots() == {"b": ("SYNC_BALANCES", "start")}
    j.close()
    # reopened: the sequence continues after the last journaled event
    j2 = Journal(tmp_path / "j.sqlite")
    assert j2.last_seq() == 5
    j2.close()


def test_a_failing_journal_stops_publication(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    seen: list[int] = []
    bus = EventBus(lambda: 1.0)
    bus.subscribe(j, durable=True)
    bus.subscribe(lambda ev: seen.append(ev.seq))
    j.close()  # writes now fail
    with pytest.raises(sqlite3.ProgrammingError):
        bus.emit(EventKind.STATE, "b", **{"from": "INIT", "to": "SYNC_BALANCES"}, reason="x")
    assert seen == []  # nobody saw an event that is not in the journal


class _Exchange:
    """The same simulated exchange seen by successive agent processes: it outlives them (its
    start/close belong to the test, not to the agent); everything else is the venue's own."""

    def __init__(self, inner: SimVenue) -> None:
        self.inner = inner

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


Life = Callable[[AgentHost], Awaitable[None]]


def _lives(tmp_path: Path, *lives: Life, config: BotConfig | None = None) -> SimVenue:
    """Run successive agent lives (hosts) against one exchange on one virtual clock; between
    lives the agent 'crashes': nothing is stopped or cancelled, its tasks just vanish."""

    async def main() -> SimVenue:
        clock = Clock(asyncio.get_running_loop(), START)
        venue = SimVenue(load_scenario("calm"), seed=2, clock=clock)
        await venue.start()
        exchange: Any = _Exchange(venue)
        for i, life in enumerate(lives):
            host = AgentHost(tmp_path, clock, lambda cfg, clk: exchange, seed=2)
            if i == 0:
                await host.add_bot(config or example_config())
            else:
                await host.load()
            await life(host)
            for h in host.bots.values():
                await h.bot.close()  # the process dies: tasks gone, orders left as they are
            host.journal.close()
            await asyncio.sleep(3)  # the exchange goes on while the agent is down
        await venue.close()
        return venue

    return run(main(), virtual=True)


def test_restart_recovers_orders_fills_and_state(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    async def first(host: AgentHost) -> None:
        await asyncio.sleep(120)
        h = host.handle(None)
        seen["open_before"] = {o.client_order_id for o in h.bot.om.active()} if h.bot.om else set()

    async def second(host: AgentHost) -> None:
        h = host.handle(None)
        seen["state_after_restart"] = h.bot.state
        await asyncio.sleep(60)
        await h.bot.stop("test done")

    venue = _lives(tmp_path, first, second)
    assert seen["state_after_restart"] is BotState.RUNNING
    j = Journal(tmp_path / "journal.sqlite")
    journal_fills = {(f["trade_id"], f["amount"]) for f in j.fills("ushark-mm", limit=100000)}
    venue_fills = {
        (f.trade_id, str(f.amount))
        for t in venue.engine.trades("bot")
        for f in t.fills_for("bot", "USHARK/USDT")
    }
    assert journal_fills == venue_fills and journal_fills
    assert venue.engine.open_orders("bot") == []
    assert j.orders("ushark-mm", open_only=True) == []
    events = j.events(0, limit=100000)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert any(
        e.kind is EventKind.WARNING and e.data.get("code") == "orders_restored" for e in events
    )
    j.close()


def test_paused_bot_stays_paused_after_restart(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    async def first(host: AgentHost) -> None:
        await asyncio.sleep(20)
        await host.command(None, "pause")

    async def second(host: AgentHost) -> None:
        h = host.handle(None)
        seen["state"] = h.bot.state
        await asyncio.sleep(10)
        seen["open"] = await h.venue.fetch_open_orders(h.bot.symbol)

    _lives(tmp_path, first, second)
    assert seen["state"] is BotState.PAUSED
    assert seen["open"] == []


def test_bot_config_mismatch_is_refused(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    async def first(host: AgentHost) -> None:
        data = example_config().dump()
        data["bot"]["symbol"] = "OTHER/USDT"
        try:
            await host.apply_config(None, data, expected_version=1)
        except Exception as exc:  # ConfigError
            seen["error"] = getattr(exc, "errors", [str(exc)])
        data = example_config().dump()
        data["market_making"]["levels_up"] = 5
        try:
            await host.apply_config(None, data, expected_version=7)
        except Exception as exc:  # VersionConflict
            seen["conflict"] = str(exc)
        seen["v"] = await host.apply_config(None, data, expected_version=1, comment="fewer")
        await asyncio.sleep(5)
        h = host.handle(None)
        seen["asks"] = h.bot.om.live_counts()[1] if h.bot.om else None

    _lives(tmp_path, first)
    assert any(e.startswith("bot.symbol: cannot change") for e in seen["error"])
    assert "version 1, not 7" in seen["conflict"]
    assert seen["v"] == 2 and seen["asks"] == 5
    j = Journal(tmp_path / "journal.sqlite")
    assert j.latest_config("ushark-mm")[0] == 2  # type: ignore[index]
    j.close()
