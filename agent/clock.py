"""Time for the engine: wall clock (live, demo) or a virtual clock that runs as fast as possible.

The virtual clock is an asyncio event loop whose time jumps to the next scheduled timer whenever
nothing is ready to run. All engine code just uses `asyncio.sleep`/`loop.call_later` and
`Clock.now()`, so the same code runs in real time or at full speed (tests, backtests).
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class Clock:
    """Epoch-seconds clock bound to an event loop's monotonic time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, epoch_at_start: float | None = None):
        self._loop = loop
        self._epoch0 = time.time() if epoch_at_start is None else epoch_at_start
        self._mono0 = loop.time()

    def now(self) -> float:
        """UTC epoch seconds (virtual under a virtual loop)."""
        return self._epoch0 + (self._loop.time() - self._mono0)

    def monotonic(self) -> float:
        return self._loop.time()

    @property
    def virtual(self) -> bool:
        return isinstance(self._loop, VirtualTimeLoop)


class _VirtualSelector(selectors.DefaultSelector):
    """Never blocks while timers are pending: advances the loop's virtual time instead."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        if ready or timeout is None or timeout <= 0 or self.loop is None:
            if not ready and timeout is None:
                return super().select(None)  # only external I/O can wake us
            return ready
        self.loop.advance(timeout)
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time: sleeping costs nothing, ordering is preserved."""

    def __init__(self) -> None:
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.loop = self
        self._vtime = 0.0

    def time(self) -> float:
        return self._vtime

    def advance(self, seconds: float) -> None:
        self._vtime += seconds


def run(coro: Coroutine[Any, Any, T], *, virtual: bool = False) -> T:
    """Run `coro` to completion on a real or a virtual-time loop."""
    if not virtual:
        return asyncio.run(coro)
    loop = VirtualTimeLoop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coro)
    finally:
        try:
            _cancel_all(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in tasks:
        t.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
