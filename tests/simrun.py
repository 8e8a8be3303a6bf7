"""Run a bot on the simulated venue on the virtual clock, for tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from agent.bot import Bot
from agent.clock import Clock, run
from agent.config import BotConfig, load_config
from agent.events import Event, EventBus
from agent.orders import OrderState
from agent.venues.sim import Scenario, SimVenue, load_scenario

ROOT = Path(__file__).resolve().parent.parent
START = 1_800_000_000.0  # 2027-01-15T08:00:00Z

Body = Callable[[Bot, SimVenue, list[Event]], Awaitable[None]]


def example_config(**blocks: dict[str, Any]) -> BotConfig:
    """examples/ushark.yaml with some fields of some blocks replaced."""
    cfg = load_config(ROOT / "examples" / "ushark.yaml")
    update = {}
    for block, fields in blocks.items():
        update[block] = getattr(cfg, block).model_copy(update=fields)
    return cfg.model_copy(update=update) if update else cfg


def run_bot(
    body: Body,
    *,
    scenario: str | Scenario = "calm",
    seed: int = 3,
    config: BotConfig | None = None,
    start: float = START,
    on_bus: Callable[[EventBus, Bot, SimVenue], None] | None = None,
) -> tuple[Bot, SimVenue, list[Event]]:
    events: list[Event] = []

    async def main() -> tuple[Bot, SimVenue]:
        clock = Clock(asyncio.get_running_loop(), start)
        bus = EventBus(clock.now)
        bus.subscribe(events.append)
        sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
        venue = SimVenue(sc, seed=seed, clock=clock)
        bot = Bot(config or example_config(), venue, bus, clock, seed=seed)
        if bot.config.pricing.external is not None:  # the same market without our orders
            bot.external_venue = SimVenue(sc, seed=seed, clock=clock, account="reference")
            await bot.external_venue.start()
        if on_bus is not None:
            on_bus(bus, bot, venue)
        await venue.start()
        try:
            await bot.start()
            await body(bot, venue, events)
        finally:
            await bot.close()
            await venue.close()
            if bot.external_venue is not None:
                await bot.external_venue.close()
        return bot, venue

    bot, venue = run(main(), virtual=True)
    return bot, venue, events


async def settled(bot: Bot, limit: float = 30.0) -> None:
    """Wait (virtual time) until no order of the bot is in flight."""
    assert bot.om is not None
    waited = 0.0
    while any(
        o.state in (OrderState.PENDING_NEW, OrderState.PENDING_CANCEL) for o in bot.om.active()
    ):
        await asyncio.sleep(0.01)
        waited += 0.01
        assert waited < limit, "orders stayed in flight"


def venue_open_ids(venue: SimVenue) -> set[str]:
    return {o.client_order_id for o in venue.engine.open_orders("bot")}
