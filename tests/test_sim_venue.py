"""The simulated venue on a virtual clock: market, latency, streams, faults, reproducibility."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from agent.clock import Clock, run
from agent.model import OrderRequest, Side, TimeInForce, VenueOrderStatus
from agent.venues.base import (
    BalanceUpdate,
    BookUpdate,
    FillUpdate,
    OrderUpdate,
    TradeUpdate,
    VenueError,
    VenueErrorCode,
    VenueEvent,
    VenueTimeout,
)
from agent.venues.sim import SimVenue, load_scenario

T = TypeVar("T")
EPOCH = 1_700_000_000.0
SYMBOL = "USHARK/USDT"
D = Decimal


def simulate(body: Callable[[SimVenue], Awaitable[T]], scenario: str = "calm", seed: int = 1) -> T:
    """Run `body` against a started venue on a virtual-time loop."""

    async def main() -> T:
        clock = Clock(asyncio.get_running_loop(), epoch_at_start=EPOCH)
        venue = SimVenue(load_scenario(scenario), seed=seed, clock=clock)
        await venue.start()
        try:
            return await body(venue)
        finally:
            await venue.close()

    return run(main(), virtual=True)


def req(
    cid: str, side: Side, price: Decimal, amount: Decimal, tif: TimeInForce = TimeInForce.POST_ONLY
) -> OrderRequest:
    return OrderRequest(cid, SYMBOL, side, price, amount, tif)


def grid(venue: SimVenue, mid: Decimal, tag: str) -> list[OrderRequest]:
    """10 levels per side, 0.4 % inner spread, 0.25 % steps, about 50 USDT each."""
    rules = venue.rules
    out = []
    for i in range(10):
        off = D("0.002") + D("0.0025") * i
        for side in (Side.BUY, Side.SELL):
            raw = mid * (1 - off) if side is Side.BUY else mid * (1 + off)
            price = rules.safe_price(side, raw)
            out.append(req(f"{tag}-{side}-{i}", side, price, rules.floor_amount(D(50) / price)))
    return out


def test_start_seeds_a_deep_book_except_in_thin_book() -> None:
    async def body(venue: SimVenue) -> tuple[int, int, Decimal | None]:
        book = await venue.fetch_order_book(SYMBOL, depth=50)
        assert book.best_bid is not None and book.best_ask is not None
        assert book.best_bid < book.best_ask
        return len(book.bids), len(book.asks), book.mid

    bids, asks, mid = simulate(body, "calm")
    assert bids >= 10 and asks >= 10
    assert mid is not None and abs(mid - D("0.002")) / D("0.002") < D("0.01")
    thin_bids, thin_asks, _ = simulate(body, "thin-book")
    assert thin_bids <= 2 and thin_asks <= 2


def test_same_seed_same_trades_other_seed_other_trades() -> None:
    async def body(venue: SimVenue) -> list[tuple[Any, ...]]:
        await asyncio.sleep(60)
        return [
            (t.trade_id, t.price, t.amount, t.taker_side, t.maker_account, t.taker_account, t.at)
            for t in venue.engine.trades()
        ]

    first = simulate(body, seed=42)
    assert len(first) > 5
    assert simulate(body, seed=42) == first
    assert simulate(body, seed=43) != first


def test_grid_bot_gets_dozens_of_fills_in_ten_calm_minutes() -> None:
    async def body(venue: SimVenue) -> tuple[int, int, int]:
        placed = 0
        for n in range(60):
            await venue.cancel_all(SYMBOL)
            book = await venue.fetch_order_book(SYMBOL)
            assert book.mid is not None
            orders = grid(venue, book.mid, f"r{n}")
            for k in range(0, len(orders), 10):
                results = await venue.create_orders(orders[k : k + 10])
                placed += sum(r.order is not None for r in results)
            await asyncio.sleep(10)
        assert placed >= 60 * 20 * 0.95  # post-only quotes off the touch are rarely refused
        fills = await venue.fetch_fills(SYMBOL, since=0)
        return len(fills), venue.self_trades, len(venue.engine.trades())

    fills, self_trades, all_trades = simulate(body, "calm", seed=3)
    assert fills >= 24
    assert self_trades == 0
    assert all_trades > fills


def test_flash_crash_drops_about_20_pct_and_recovers_half() -> None:
    async def body(venue: SimVenue) -> list[float]:
        start = venue.market.fair
        marks = []
        for t in (100, 160, 400):
            await asyncio.sleep(t - venue.market.elapsed)
            book = await venue.fetch_order_book(SYMBOL)
            assert book.mid is not None
            marks.append(float(book.mid) / start - 1)
        return marks

    before, bottom, after = simulate(body, "flash-crash", seed=5)
    assert abs(before) < 0.02
    assert -0.25 < bottom < -0.15
    assert -0.14 < after < -0.06


def test_orders_lock_balances_and_cancel_refunds() -> None:
    async def body(venue: SimVenue) -> None:
        before = await venue.fetch_balances()
        bid = venue.engine.best_bid
        assert bid is not None
        price = bid - D("0.00002")
        (res,) = await venue.create_orders([req("c1", Side.BUY, price, D(10000))])
        assert res.order is not None and res.order.status is VenueOrderStatus.OPEN
        mid = await venue.fetch_balances()
        assert mid["USDT"].locked == price * 10000
        assert mid["USDT"].free == before["USDT"].free - price * 10000
        assert [o.client_order_id for o in await venue.fetch_open_orders(SYMBOL)] == ["c1"]

        (out,) = await venue.cancel_orders(SYMBOL, [("c1", "")])
        assert out.ok and out.order is not None and out.order.status is VenueOrderStatus.CANCELED
        after = await venue.fetch_balances()
        if not out.order.filled:
            assert after == before
        (missing,) = await venue.cancel_orders(SYMBOL, [("nope", "")])
        assert not missing.ok and missing.error == VenueErrorCode.ORDER_NOT_FOUND
        order = await venue.fetch_order(SYMBOL, "c1")
        assert order is not None and order.status is VenueOrderStatus.CANCELED
        assert await venue.fetch_order(SYMBOL, "never-sent") is None

    simulate(body)


def test_calls_are_counted_and_pay_latency_both_ways() -> None:
    async def body(venue: SimVenue) -> None:
        loop = asyncio.get_running_loop()
        lat = venue.scenario.latency
        t0 = loop.time()
        await venue.fetch_balances()
        took_ms = (loop.time() - t0) * 1000
        assert 2 * (lat.call_mean_ms - lat.call_jitter_ms) <= took_ms
        assert took_ms <= 2 * (lat.call_mean_ms + lat.call_jitter_ms) + 1e-6
        await venue.market_rules(SYMBOL)
        await venue.fetch_open_orders(SYMBOL)
        await venue.fetch_open_orders(SYMBOL)
        assert venue.calls["fetch_balances"] == 1
        assert venue.calls["market_rules"] == 1
        assert venue.calls["fetch_open_orders"] == 2
        with pytest.raises(VenueError) as info:
            await venue.fetch_order_book("BTC/USDT")
        assert info.value.code is VenueErrorCode.INVALID_ORDER

    simulate(body)


def test_batch_limits() -> None:
    async def body(venue: SimVenue) -> None:
        price = venue.rules.tick_size * 1000
        too_many = [req(f"x{i}", Side.BUY, price, D(5000)) for i in range(11)]
        with pytest.raises(VenueError) as info:
            await venue.create_orders(too_many)
        assert info.value.code is VenueErrorCode.INVALID_ORDER
        assert await venue.fetch_open_orders(SYMBOL) == []
        with pytest.raises(VenueError):
            await venue.cancel_orders(SYMBOL, [(f"x{i}", "") for i in range(21)])
        results = await venue.create_orders(too_many[:10])
        assert all(r.order is not None for r in results)
        canceled = await venue.cancel_all(SYMBOL)
        assert sorted(c.client_order_id for c in canceled) == sorted(
            r.client_order_id for r in too_many[:10]
        )

    simulate(body)


def test_faults() -> None:
    async def body(venue: SimVenue) -> None:
        price = venue.rules.tick_size * 1000  # far below the market: rests, never fills
        amount = D(5000)

        venue.faults.fail_next_calls = 1
        with pytest.raises(VenueError) as info:
            await venue.create_orders([req("f1", Side.BUY, price, amount)])
        assert info.value.code is VenueErrorCode.NETWORK
        assert await venue.fetch_order(SYMBOL, "f1") is None  # nothing happened

        venue.faults.timeout_next_creates = 1
        with pytest.raises(VenueTimeout):
            await venue.create_orders([req("t1", Side.BUY, price, amount)])
        applied = await venue.fetch_order(SYMBOL, "t1")  # it did happen: reconcile finds it
        assert applied is not None and applied.status is VenueOrderStatus.OPEN

        venue.faults.reject_next_creates = 1
        first, second = await venue.create_orders(
            [req("r1", Side.BUY, price, amount), req("r2", Side.BUY, price, amount)]
        )
        assert first.error == VenueErrorCode.REJECTED and first.order is None
        assert second.order is not None and not second.error
        assert await venue.fetch_order(SYMBOL, "r1") is None
        assert venue.calls["create_orders"] == 3
        assert venue.faults.fail_next_calls == venue.faults.timeout_next_creates == 0

    simulate(body)


def collect(venue: SimVenue, into: list[tuple[float, VenueEvent]]) -> asyncio.Task[None]:
    loop = asyncio.get_running_loop()

    async def consume() -> None:
        async for event in venue.stream(SYMBOL):
            into.append((loop.time(), event))

    return loop.create_task(consume())


def test_stream_delivers_book_trades_and_own_account_events() -> None:
    async def body(venue: SimVenue) -> None:
        events: list[tuple[float, VenueEvent]] = []
        task = collect(venue, events)
        await asyncio.sleep(5)
        ask = venue.engine.best_ask
        assert ask is not None
        (res,) = await venue.create_orders([req("take", Side.BUY, ask, D(5000), TimeInForce.IOC)])
        assert res.order is not None and res.order.filled > 0
        await asyncio.sleep(30)
        await venue.close()
        await task  # the stream ends when the venue closes

        kinds = [type(e) for _, e in events]
        assert kinds[0] is BookUpdate
        books = [(t, e.book) for t, e in events if isinstance(e, BookUpdate)]
        seqs = [b.seq for _, b in books]
        assert seqs == sorted(seqs) and len(set(seqs)) > 10  # heartbeats repeat a seq
        interval = venue.scenario.book_publish_ms / 1000
        gaps = [b2[0] - b1[0] for b1, b2 in itertools.pairwise(books[1:])]
        assert min(gaps) >= interval - venue.scenario.latency.market_data_jitter_ms / 500
        assert any(isinstance(e, TradeUpdate) for _, e in events)
        fills = [(t, e.fill) for t, e in events if isinstance(e, FillUpdate)]
        assert fills and all(f.client_order_id == "take" for _, f in fills)
        md = venue.scenario.latency
        for t, f in fills:
            assert t - (f.at - EPOCH) >= (md.market_data_mean_ms - md.market_data_jitter_ms) / 1000
        own = [e.order for _, e in events if isinstance(e, OrderUpdate)]
        assert own and all(o.client_order_id == "take" for o in own)
        assert own[-1].status in (VenueOrderStatus.FILLED, VenueOrderStatus.CANCELED)
        balances = [e.balances for _, e in events if isinstance(e, BalanceUpdate)]
        assert balances and balances[-1] == venue.engine.balances("bot")
        assert [f for _, f in fills] == await venue.fetch_fills(SYMBOL, since=0)

    simulate(body)


def test_stalled_market_data_stops_book_updates_until_cleared() -> None:
    async def body(venue: SimVenue) -> None:
        events: list[tuple[float, VenueEvent]] = []
        task = collect(venue, events)
        await asyncio.sleep(5)
        venue.faults.stall_market_data = True
        await asyncio.sleep(0.2)  # let in-flight deliveries land
        mark = len(events)
        version = venue.engine.book_version
        await asyncio.sleep(30)
        assert venue.engine.book_version > version  # the market kept moving...
        stalled = events[mark:]
        assert not any(isinstance(e, BookUpdate | TradeUpdate) for _, e in stalled)
        venue.faults.stall_market_data = False
        await asyncio.sleep(1)
        assert any(isinstance(e, BookUpdate) for _, e in events[mark:])
        task.cancel()

    simulate(body)
