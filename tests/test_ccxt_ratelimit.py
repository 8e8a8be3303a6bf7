"""Our rate budget (agent.venues.ratelimit) on the virtual clock: rates, cancel-first priority,
the shared 429 back-off."""

from __future__ import annotations

import asyncio

from agent.clock import run
from agent.venues.ratelimit import BudgetSpec, CallClass, RateBudget, TokenBucket


def test_bucket_paces_calls_at_its_rate() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        bucket = TokenBucket(rate=8, burst=8)
        t0 = loop.time()
        for _ in range(24):
            await bucket.acquire()
        return loop.time() - t0

    elapsed = run(main(), virtual=True)
    assert 1.9 <= elapsed <= 2.1  # 8 free, then 16 at 8/s


def test_cancels_are_served_before_creates_when_tight() -> None:
    async def main() -> list[str]:
        budget = RateBudget(BudgetSpec(1, 1, 1, shared=True))
        order: list[str] = []
        await budget.acquire(CallClass.QUERY)  # empty the shared bucket

        async def call(cls: CallClass, tag: str) -> None:
            await budget.acquire(cls, "X/Y")
            order.append(tag)

        tasks = [asyncio.create_task(call(CallClass.ORDER, f"create{i}")) for i in range(3)]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(call(CallClass.CANCEL, "cancel")))
        await asyncio.gather(*tasks)
        return order

    assert run(main(), virtual=True) == ["cancel", "create0", "create1", "create2"]


def test_429_blocks_every_bucket_with_growing_backoff() -> None:
    async def main() -> tuple[float, float, int]:
        loop = asyncio.get_running_loop()
        budget = RateBudget(BudgetSpec(100, 100, 100, backoff_initial=1.0))
        await budget.acquire(CallClass.ORDER, "A/B")
        first = budget.rate_limited()
        second = budget.rate_limited()
        t0 = loop.time()
        await budget.acquire(CallClass.CANCEL)  # a bucket made after the 429 waits too
        waited = loop.time() - t0
        assert budget.succeeded() and not budget.succeeded()
        return first, second, int(waited * 10) / 10 if waited else 0

    first, second, waited = run(main(), virtual=True)
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 2.0
    assert waited >= 0.9


def test_cancelled_waiter_does_not_leak_tokens() -> None:
    async def main() -> float:
        bucket = TokenBucket(rate=1, burst=1)
        await bucket.acquire()
        waiter = asyncio.create_task(bucket.acquire())
        await asyncio.sleep(0.1)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        await asyncio.sleep(1.0)
        return bucket.available()

    assert run(main(), virtual=True) >= 0.99
