"""Price sources in the running bot: an external reference market drives quotes and risk."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from agent.bot import Bot
from agent.config import ExternalMarket, PriceSource, PricingConfig
from agent.events import Event, EventKind
from agent.lifecycle import BotState
from agent.venues.sim import SimVenue
from tests.simrun import example_config, run_bot, venue_open_ids


def _external_config() -> object:
    cfg = example_config(risk={"stale_data_seconds": Decimal(5), "auto_resume_after_seconds": 5})
    pricing = PricingConfig(
        source=PriceSource.EXTERNAL,
        risk_reference=PriceSource.EXTERNAL,
        external=ExternalMarket(venue="sim", symbol="USHARK/USDT"),
        max_age_seconds=Decimal(5),
    )
    return cfg.model_copy(update={"pricing": pricing})


def test_external_reference_quotes_and_goes_stale_when_its_feed_stops() -> None:
    seen: dict[str, object] = {}

    async def body(bot: Bot, venue: SimVenue, events: list[Event]) -> None:
        await asyncio.sleep(60)
        ref = bot.external_venue
        assert isinstance(ref, SimVenue)
        point = bot.prices.quote_price(bot.clock.now())
        seen["quoting"] = (bot.state, point is not None, bot.om.live_counts() if bot.om else None)
        ref.faults.stall_market_data = True  # the reference market goes silent
        await asyncio.sleep(10)
        seen["stale"] = (bot.state, len(venue_open_ids(venue)))
        ref.faults.stall_market_data = False
        await asyncio.sleep(20)
        seen["back"] = bot.state

    _, venue, events = run_bot(body, config=_external_config())  # type: ignore[arg-type]
    state, fresh, counts = seen["quoting"]  # type: ignore[misc]
    assert state is BotState.RUNNING and fresh and counts == (10, 10)
    assert seen["stale"] == (BotState.PAUSED, 0)
    assert seen["back"] is BotState.RUNNING
    breaches = [e for e in events if e.kind is EventKind.RISK and e.data.get("code") == "breach"]
    assert [b.data["rule"] for b in breaches] == ["stale_data"]
    assert venue.self_trades == 0
