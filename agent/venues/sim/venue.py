"""`SimVenue`: the `Venue` interface over the in-process matching engine and synthetic market.

It behaves like a remote exchange as far as the bot can tell: every call pays a request and a
response latency, stream events arrive a market-data delay after they happened and in venue
order, the book is published at most once per publish interval and only when it changed, and
faults can be injected to exercise the bot's unhappy paths (see `SimFaults`).
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

from agent.clock import Clock
from agent.model import (
    Balance,
    CancelResult,
    CreateResult,
    Fill,
    MarketRules,
    OrderBook,
    OrderRequest,
    VenueOrder,
)
from agent.venues.base import (
    BalanceUpdate,
    BookUpdate,
    Capabilities,
    FillUpdate,
    OrderUpdate,
    TradeUpdate,
    Venue,
    VenueError,
    VenueErrorCode,
    VenueEvent,
    VenueTimeout,
)
from agent.venues.sim.engine import (
    BalancesChanged,
    EngineEvent,
    MatchingEngine,
    OrderChanged,
    TradeExecuted,
)
from agent.venues.sim.market import TAKER_ACCOUNT, SyntheticMarket
from agent.venues.sim.scenarios import Scenario

MAX_BATCH_CREATE = 10
MAX_BATCH_CANCEL = 20
STREAM_DEPTH = 50


@dataclass(slots=True)
class SimFaults:
    """Failures a test switches on to drive the bot through its unhappy paths.

    Counters are consumed as the affected calls happen, so `fail_next_calls = 2` fails exactly
    the next two calls of any kind."""

    timeout_next_creates: int = 0
    """`create_orders` calls whose orders ARE applied by the engine, but the call then raises
    VenueTimeout after the response latency: the outcome-unknown case the bot must reconcile
    by client order id instead of re-submitting."""

    reject_next_creates: int = 0
    """Orders (not calls) that come back as per-order results with error REJECTED without
    reaching the engine: a known failure, nothing happened."""

    fail_next_calls: int = 0
    """Calls of any kind that raise VenueError(NETWORK) after the request latency, before
    touching the engine: a known failure, nothing happened."""

    stall_market_data: bool = False
    """While true, no BookUpdate or TradeUpdate is delivered (they are dropped, not queued),
    as when a market-data feed silently stops; account events and REST calls still work.
    Once cleared, the next publish interval sends the current book (if it changed)."""


class SimVenue(Venue):
    """One bot account on a simulated exchange; see the package docstring for the parts."""

    name = "sim"
    capabilities = Capabilities(
        batch_create=True,
        batch_cancel=True,
        max_batch_create=MAX_BATCH_CREATE,
        max_batch_cancel=MAX_BATCH_CANCEL,
        amend=False,
        post_only=True,
        watch_orders=True,
        watch_my_trades=True,
        watch_balance=True,
        dead_man_switch=False,
    )

    def __init__(self, scenario: Scenario, *, seed: int, clock: Clock, account: str = "bot"):
        super().__init__()
        self.scenario = scenario
        self.seed = seed
        self.clock = clock
        self.account = account
        self.rules: MarketRules = scenario.market.rules()
        self.faults = SimFaults()
        self._engine: MatchingEngine | None = None
        self._market: SyntheticMarket | None = None
        self._latency_rng = random.Random(f"{seed}:latency")
        # stream queues -> seq of the last book each was given (book seqs only ever increase)
        self._subscribers: dict[asyncio.Queue[VenueEvent | None], int] = {}
        self._outbox: deque[tuple[VenueEvent, asyncio.Queue[VenueEvent | None] | None]] = deque()
        self._last_delivery = 0.0
        self._published_version = -1
        self._publisher: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    # ----------------------------------------------------------------- simulator handles

    @property
    def engine(self) -> MatchingEngine:
        if self._engine is None:
            raise RuntimeError("SimVenue not started")
        return self._engine

    @property
    def market(self) -> SyntheticMarket:
        if self._market is None:
            raise RuntimeError("SimVenue not started")
        return self._market

    @property
    def self_trades(self) -> int:
        """Self-matched trades the venue saw (third parties never self-match: this is the bot)."""
        return self.engine.self_trade_count

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Create the engine and accounts, seed the book and start the market."""
        if self._engine is not None:
            raise RuntimeError("SimVenue already started")
        reserved = {lp.name for lp in self.scenario.liquidity_providers} | {TAKER_ACCOUNT}
        if self.account in reserved:
            raise ValueError(f"account name {self.account!r} is taken by a third party")
        self._loop = asyncio.get_running_loop()
        engine = MatchingEngine(self.rules)
        engine.add_account(self.account, dict(self.scenario.bot_balances))
        engine.listeners.append(self._on_engine_event)
        market = SyntheticMarket(engine, self.scenario, seed=self.seed, clock=self.clock)
        market.setup()
        market.start()
        self._engine, self._market = engine, market
        self._publisher = self._loop.create_task(self._publish_books())

    async def close(self) -> None:
        """Stop the market and end every stream; the engine stays readable for inspection."""
        if self._closed or self._market is None:
            self._closed = True
            return
        self._closed = True
        if self._publisher is not None:
            self._publisher.cancel()
            await asyncio.gather(self._publisher, return_exceptions=True)
        for q in self._subscribers:
            q.put_nowait(None)
        await self._market.stop()

    # ----------------------------------------------------------------- venue calls

    async def market_rules(self, symbol: str) -> MarketRules:
        await self._request("market_rules", symbol)
        await self._respond()
        return self.rules

    async def fetch_balances(self) -> dict[str, Balance]:
        engine = await self._request("fetch_balances")
        balances = engine.balances(self.account)
        await self._respond()
        return balances

    async def fetch_order_book(self, symbol: str, depth: int = 50) -> OrderBook:
        await self._request("fetch_order_book", symbol)
        book = self._snapshot(depth)
        await self._respond()
        return book

    async def create_orders(self, requests: list[OrderRequest]) -> list[CreateResult]:
        engine = await self._request("create_orders")
        if len(requests) > MAX_BATCH_CREATE:
            raise VenueError(
                VenueErrorCode.INVALID_ORDER,
                f"batch of {len(requests)} orders exceeds {MAX_BATCH_CREATE}",
            )
        results: list[CreateResult] = []
        for req in requests:
            if req.symbol != self.rules.symbol:
                results.append(
                    CreateResult(req, error=VenueErrorCode.INVALID_ORDER, message="unknown symbol")
                )
                continue
            if self.faults.reject_next_creates > 0:
                self.faults.reject_next_creates -= 1
                results.append(
                    CreateResult(req, error=VenueErrorCode.REJECTED, message="injected rejection")
                )
                continue
            r = engine.submit(
                self.account,
                req.client_order_id,
                req.side,
                req.price,
                req.amount,
                req.tif,
                self.clock.now(),
            )
            if r.error is None:
                results.append(CreateResult(req, order=r.order))
            else:
                results.append(CreateResult(req, error=r.error, message=r.message))
        timeout = self.faults.timeout_next_creates > 0
        if timeout:
            self.faults.timeout_next_creates -= 1
        await self._respond()
        if timeout:
            raise VenueTimeout("injected timeout: the orders were applied")
        return results

    async def cancel_orders(self, symbol: str, orders: list[tuple[str, str]]) -> list[CancelResult]:
        engine = await self._request("cancel_orders", symbol)
        if len(orders) > MAX_BATCH_CANCEL:
            raise VenueError(
                VenueErrorCode.INVALID_ORDER,
                f"batch of {len(orders)} cancels exceeds {MAX_BATCH_CANCEL}",
            )
        results: list[CancelResult] = []
        now = self.clock.now()
        for client_order_id, venue_order_id in orders:
            out = engine.cancel(
                self.account,
                venue_order_id=venue_order_id or None,
                client_order_id=client_order_id,
                now=now,
            )
            results.append(
                CancelResult(
                    client_order_id=client_order_id,
                    ok=out.ok,
                    error=out.error or "",
                    message=out.message,
                    order=out.order,
                )
            )
        await self._respond()
        return results

    async def cancel_all(self, symbol: str) -> list[CancelResult]:
        engine = await self._request("cancel_all", symbol)
        canceled = engine.cancel_all(self.account, now=self.clock.now())
        await self._respond()
        return [CancelResult(o.client_order_id, True, order=o) for o in canceled]

    async def fetch_open_orders(self, symbol: str) -> list[VenueOrder]:
        engine = await self._request("fetch_open_orders", symbol)
        orders = engine.open_orders(self.account)
        await self._respond()
        return orders

    async def fetch_order(self, symbol: str, client_order_id: str) -> VenueOrder | None:
        engine = await self._request("fetch_order", symbol)
        order = engine.get_order(self.account, client_order_id=client_order_id)
        await self._respond()
        return order

    async def fetch_fills(self, symbol: str, since: float) -> list[Fill]:
        engine = await self._request("fetch_fills", symbol)
        fills = [
            f
            for t in engine.trades(self.account, since=since)
            for f in t.fills_for(self.account, self.rules.symbol)
        ]
        await self._respond()
        return fills

    async def stream(self, symbol: str) -> AsyncIterator[VenueEvent]:
        """Book, public trades and the bot's own order/fill/balance events, in venue order.

        Starts with a snapshot of the current book; ends when the venue is closed."""
        self.calls["stream"] += 1
        self._check_symbol(symbol)
        if self._closed:
            return
        if self._engine is None:
            raise RuntimeError("SimVenue not started")
        queue: asyncio.Queue[VenueEvent | None] = asyncio.Queue()
        self._subscribers[queue] = -1
        if not self.faults.stall_market_data:
            self._deliver(BookUpdate(self._snapshot(STREAM_DEPTH)), target=queue)
        try:
            while True:
                event = await queue.get()
                if event is None:
                    return
                yield event
        finally:
            self._subscribers.pop(queue, None)

    # ----------------------------------------------------------------- latency and faults

    async def _request(self, method: str, symbol: str | None = None) -> MatchingEngine:
        """The request leg of a call: count it, check it, wait, maybe fail it."""
        self.calls[method] += 1
        engine = self.engine
        if symbol is not None:
            self._check_symbol(symbol)
        await self._sleep_ms(
            self.scenario.latency.call_mean_ms, self.scenario.latency.call_jitter_ms
        )
        if self.faults.fail_next_calls > 0:
            self.faults.fail_next_calls -= 1
            raise VenueError(VenueErrorCode.NETWORK, f"injected failure of {method}")
        return engine

    async def _respond(self) -> None:
        await self._sleep_ms(
            self.scenario.latency.call_mean_ms, self.scenario.latency.call_jitter_ms
        )

    async def _sleep_ms(self, mean: float, jitter: float) -> None:
        ms = mean + self._latency_rng.uniform(-jitter, jitter) if jitter else mean
        if ms > 0:
            await asyncio.sleep(ms / 1000)

    def _check_symbol(self, symbol: str) -> None:
        if symbol != self.rules.symbol:
            raise VenueError(
                VenueErrorCode.INVALID_ORDER,
                f"unknown symbol {symbol!r} (sim trades {self.rules.symbol})",
            )

    # ----------------------------------------------------------------- stream plumbing

    def _snapshot(self, depth: int) -> OrderBook:
        bids, asks = self.engine.depth(depth)
        return OrderBook(
            symbol=self.rules.symbol,
            bids=tuple(bids),
            asks=tuple(asks),
            at=self.clock.now(),
            seq=self.engine.book_version,
        )

    def _on_engine_event(self, event: EngineEvent) -> None:
        """Engine listener: turn engine events into venue events for the stream."""
        if not self._subscribers or self._closed:
            return
        if isinstance(event, TradeExecuted):
            trade = event.trade
            if not self.faults.stall_market_data:
                self._deliver(TradeUpdate(trade.public(self.rules.symbol)))
            if trade.involves(self.account):
                for fill in trade.fills_for(self.account, self.rules.symbol):
                    self._deliver(FillUpdate(fill))
        elif isinstance(event, OrderChanged) and event.account_id == self.account:
            self._deliver(OrderUpdate(event.order))
        elif isinstance(event, BalancesChanged) and event.account_id == self.account:
            self._deliver(BalanceUpdate(self.engine.balances(self.account)))

    async def _publish_books(self) -> None:
        """Publish the book every interval when it changed, and at least every heartbeat
        interval when it did not: a quiet market is not a dead feed, and the bot's stale-data
        rule must only fire when the feed itself stops."""
        interval = self.scenario.book_publish_ms / 1000
        heartbeat = self.scenario.book_heartbeat_ms / 1000
        last = -1e18
        while True:
            await asyncio.sleep(interval)
            if not self._subscribers or self.faults.stall_market_data:
                continue
            version = self.engine.book_version
            now = asyncio.get_running_loop().time()
            if version == self._published_version and now - last < heartbeat:
                continue
            self._published_version = version
            last = now
            self._deliver(BookUpdate(self._snapshot(STREAM_DEPTH)))

    def _deliver(
        self, event: VenueEvent, target: asyncio.Queue[VenueEvent | None] | None = None
    ) -> None:
        """Queue `event` for delivery after the market-data delay, never overtaking an
        earlier event: delivery times are made non-decreasing and every timer callback
        delivers the oldest queued event, so ties cannot reorder."""
        loop = self._loop
        assert loop is not None
        lat = self.scenario.latency
        ms = lat.market_data_mean_ms
        if lat.market_data_jitter_ms:
            ms += self._latency_rng.uniform(-lat.market_data_jitter_ms, lat.market_data_jitter_ms)
        at = max(loop.time() + ms / 1000, self._last_delivery)
        self._last_delivery = at
        self._outbox.append((event, target))
        loop.call_at(at, self._deliver_next)

    def _deliver_next(self) -> None:
        event, target = self._outbox.popleft()
        if self._closed:
            return
        for q in [target] if target is not None else list(self._subscribers):
            if q not in self._subscribers:
                continue  # the consumer went away before delivery
            if isinstance(event, BookUpdate):
                # a new subscriber's first snapshot may be newer than a publish in flight;
                # an equal seq is a heartbeat of an unchanged book and is delivered
                if event.book.seq < self._subscribers[q]:
                    continue
                self._subscribers[q] = event.book.seq
            q.put_nowait(event)
