"""Our own request budget per venue, enforced before a call leaves the process.

ccxt's generic throttle knows one cost table and never reads the venue's answers; we need
per-endpoint-class budgets (orders per market, cancels, queries) below the venue's published
limits, cancels served before creates when a budget is tight, and a shared back-off after a
429. Time comes from the running event loop, so the budget also works on the virtual clock.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import itertools
import random
from collections import Counter
from dataclasses import dataclass, field


class CallClass(enum.StrEnum):
    """Endpoint classes a venue budgets separately."""

    ORDER = "order"  # create, batch create, amend (per market)
    CANCEL = "cancel"  # single, batch and all-cancel
    QUERY = "query"  # everything else (balances, open orders, order, trades, book)


# Lower value = served first when several calls wait on the same bucket.
PRIORITY: dict[CallClass, int] = {CallClass.CANCEL: 0, CallClass.QUERY: 1, CallClass.ORDER: 2}


class TokenBucket:
    """`rate` tokens per second up to `burst`; waiters are served by (priority, arrival)."""

    def __init__(self, rate: float, burst: float) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be > 0")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp: float | None = None
        self._waiters: list[tuple[int, int, float, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self.blocked_until = 0.0

    def _refill(self, now: float) -> None:
        if self._stamp is None:
            self._stamp = now
        elapsed = max(0.0, now - self._stamp)
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._stamp = now

    def available(self) -> float:
        self._refill(asyncio.get_running_loop().time())
        return self._tokens

    async def acquire(self, cost: float = 1.0, priority: int = 1) -> float:
        """Wait until `cost` tokens are free (and any back-off is over); returns seconds waited."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        cost = min(cost, self.burst)
        self._refill(start)
        if not self._waiters and start >= self.blocked_until and self._tokens >= cost:
            self._tokens -= cost
            return 0.0
        fut: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._waiters, (priority, next(self._seq), cost, fut))
        self._schedule()
        try:
            await fut
        except asyncio.CancelledError:
            self._waiters = [w for w in self._waiters if w[3] is not fut]
            heapq.heapify(self._waiters)
            if fut.done() and not fut.cancelled():
                self._tokens += cost  # granted just as we were cancelled: give it back
            self._schedule()
            raise
        return loop.time() - start

    def block(self, until: float) -> None:
        """Hold every waiter (and new caller) until loop time `until` (429 back-off)."""
        self.blocked_until = max(self.blocked_until, until)
        self._schedule()

    def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = loop.time()
        self._refill(now)
        while self._waiters:
            _prio, _seq, cost, fut = self._waiters[0]
            if fut.done():
                heapq.heappop(self._waiters)
                continue
            if now < self.blocked_until:
                self._timer = loop.call_at(self.blocked_until, self._schedule)
                return
            if self._tokens >= cost:
                heapq.heappop(self._waiters)
                self._tokens -= cost
                fut.set_result(None)
                continue
            wait = (cost - self._tokens) / self.rate
            self._timer = loop.call_at(now + wait, self._schedule)
            return


@dataclass(frozen=True, slots=True)
class BudgetSpec:
    """Rates (per second) of one venue's budget; `per_market_orders` splits ORDER by symbol."""

    orders_per_second: float
    cancels_per_second: float
    queries_per_second: float
    per_market_orders: bool = True
    shared: bool = False  # one bucket for everything (venues with a single weight limit)
    burst_seconds: float = 1.0
    backoff_initial: float = 1.0
    backoff_max: float = 30.0


@dataclass
class RateBudget:
    """Buckets per call class, the 429 back-off, and counters the engine can read."""

    spec: BudgetSpec
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    counters: Counter[str] = field(default_factory=Counter)
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)
    _strikes: int = 0
    limited_until: float = 0.0

    def _bucket(self, cls: CallClass, symbol: str | None) -> TokenBucket:
        s = self.spec
        if s.shared:
            key, rate = "all", s.queries_per_second
        elif cls is CallClass.ORDER:
            key = f"order:{symbol}" if s.per_market_orders and symbol else "order"
            rate = s.orders_per_second
        elif cls is CallClass.CANCEL:
            key, rate = "cancel", s.cancels_per_second
        else:
            key, rate = "query", s.queries_per_second
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(rate, max(1.0, rate * s.burst_seconds))
            if self.limited_until:
                bucket.block(self.limited_until)
            self._buckets[key] = bucket
        return bucket

    async def acquire(self, cls: CallClass, symbol: str | None = None, cost: float = 1.0) -> None:
        waited = await self._bucket(cls, symbol).acquire(cost, PRIORITY[cls])
        self.counters[f"{cls.value}_calls"] += 1
        if waited > 0:
            self.counters[f"{cls.value}_throttled"] += 1

    def rate_limited(self) -> float:
        """Record a 429 from the venue: block every bucket for an exponential back-off with
        jitter; returns the back-off in seconds."""
        s = self.spec
        self._strikes += 1
        base = min(s.backoff_max, s.backoff_initial * 2 ** (self._strikes - 1))
        delay = base * (0.5 + self.rng.random() / 2)
        until = asyncio.get_running_loop().time() + delay
        self.limited_until = max(self.limited_until, until)
        for bucket in self._buckets.values():
            bucket.block(self.limited_until)
        self.counters["rate_limited"] += 1
        return delay

    def succeeded(self) -> bool:
        """A call went through: reset the back-off. True if we were in back-off before."""
        was = self._strikes > 0
        self._strikes = 0
        return was

    @property
    def backing_off(self) -> bool:
        return asyncio.get_running_loop().time() < self.limited_until
