from __future__ import annotations

import asyncio

from agent.clock import Clock, run


def test_virtual_clock_runs_fast_and_in_order() -> None:
    order: list[tuple[float, str]] = []

    async def main() -> float:
        clock = Clock(asyncio.get_running_loop(), 1_700_000_000.0)

        async def worker(name: str, period: float) -> None:
            for _ in range(3):
                await asyncio.sleep(period)
                order.append((clock.now(), name))

        await asyncio.gather(worker("a", 10), worker("b", 15))
        return clock.now()

    end = run(main(), virtual=True)
    assert end == 1_700_000_045.0
    assert [t - 1_700_000_000 for t, _ in order] == [10, 15, 20, 30, 30, 45]
    assert [n for _, n in order][:3] == ["a", "b", "a"]
