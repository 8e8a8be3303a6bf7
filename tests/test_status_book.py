"""The venue's book in the bot's full status: the best levels per side, in order, exact, and
the same over gRPC (`GetStatus.status_json`, Decimals as strings) as in the agent."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from agent.bot import STATUS_BOOK_LEVELS, Bot
from agent.clock import Clock
from agent.events import Event, EventBus
from agent.proto.mmbot.agent.v1 import agent_pb2 as pb
from agent.venues.sim import SimVenue, load_scenario
from tests.simrun import START, example_config, run_bot
from tests.test_grpc_helpers import live_agent, wait_for


def _levels(rows: list[dict[str, Any]]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(str(r["price"])), Decimal(str(r["amount"]))) for r in rows]


def test_status_book_is_the_top_of_the_venue_book_in_order() -> None:
    seen: dict[str, Any] = {}

    async def body(bot: Bot, venue: SimVenue, events: list[Event]) -> None:
        await asyncio.sleep(30)
        assert bot.book is not None
        seen["book"] = bot.book
        seen["status"] = bot.full_status()["book"]
        seen["top3"] = bot.book_report(3)

    run_bot(body)
    book, status = seen["book"], seen["status"]
    # the calm market is deeper than the status shows: the cut is what this test is about
    assert len(book.bids) > STATUS_BOOK_LEVELS and len(book.asks) > STATUS_BOOK_LEVELS
    bids, asks = _levels(status["bids"]), _levels(status["asks"])
    assert len(bids) == len(asks) == STATUS_BOOK_LEVELS
    assert bids == [(lv.price, lv.amount) for lv in book.bids[:STATUS_BOOK_LEVELS]]
    assert asks == [(lv.price, lv.amount) for lv in book.asks[:STATUS_BOOK_LEVELS]]
    # best first on both sides, and the sides do not cross
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
    assert [p for p, _ in asks] == sorted(p for p, _ in asks)
    assert bids[0][0] < asks[0][0]
    assert all(isinstance(r["price"], Decimal) for r in status["bids"] + status["asks"])
    assert status["at"] == book.at
    assert _levels(seen["top3"]["bids"]) == bids[:3] and _levels(seen["top3"]["asks"]) == asks[:3]


async def test_status_book_is_none_before_the_first_book() -> None:
    """A bot that has not synced with its venue has no book: the status says so (None)
    instead of showing an empty market."""
    clock = Clock(asyncio.get_running_loop(), START)
    venue = SimVenue(load_scenario("calm"), seed=1, clock=clock)
    bot = Bot(example_config(), venue, EventBus(clock.now), clock)
    assert bot.full_status()["book"] is None


async def test_status_book_over_grpc_is_exact_text(tmp_path: Path) -> None:
    async with live_agent(tmp_path / "data") as agent:
        bot = agent.host.handle("ushark-mm").bot
        await wait_for(lambda: bot.book is not None)
        stub = agent.stub()
        r = await stub.GetStatus(pb.GetStatusRequest(bot="ushark-mm"), metadata=agent.md)
        doc = json.loads(r.status_json)["book"]
        # exact decimal text, never a float, on both sides
        for row in doc["bids"] + doc["asks"]:
            assert isinstance(row["price"], str) and isinstance(row["amount"], str)
        assert 0 < len(doc["bids"]) <= STATUS_BOOK_LEVELS
        assert 0 < len(doc["asks"]) <= STATUS_BOOK_LEVELS
        bids, asks = _levels(doc["bids"]), _levels(doc["asks"])
        assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
        assert [p for p, _ in asks] == sorted(p for p, _ in asks)
        assert bids[0][0] < asks[0][0]
        assert isinstance(doc["at"], float)
