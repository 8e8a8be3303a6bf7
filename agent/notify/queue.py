"""Outbound alert queue of one chat: bounded, critical first, coalescing.

The event bus calls the notifier synchronously from the trading loop, so a push must be cheap and
never wait. Telegram can be slow or down for minutes, so the queue is bounded: when it is full,
the oldest routine alert goes first and is counted. Critical alerts (kill switch, STOP, ERROR,
STOP/KILL breaches) are never shed to make room for routine ones; they have their own, much
larger bound that exists only so a runaway producer cannot eat the agent's memory.

Everything pending when the sender may send again goes out as one message (criticals first), so
a burst of alerts becomes a few messages instead of a flood.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

MAX_MESSAGE_CHARS = 4096  # Telegram's limit for one text message
SEPARATOR = "\n\n"


@dataclass(slots=True)
class Outgoing:
    """One alert waiting for its chat. Alerts with the same `key` that pile up while waiting
    (the same API error every second, say) are merged into the newest with a repeat count."""

    text: str
    critical: bool = False
    silent: bool = False
    key: str | None = None
    repeats: int = 1

    def render(self) -> str:
        return self.text if self.repeats == 1 else f"{self.text} (×{self.repeats})"


@dataclass(frozen=True, slots=True)
class Batch:
    """What the sender sends next: one Telegram message made of `items` alerts."""

    text: str
    critical: bool
    silent: bool
    items: int


class OutboundQueue:
    def __init__(self, capacity: int = 200, critical_capacity: int = 1000) -> None:
        if capacity < 1 or critical_capacity < 1:
            raise ValueError("capacities must be >= 1")
        self.capacity = capacity
        self.critical_capacity = critical_capacity
        self._critical: deque[Outgoing] = deque()
        self._routine: deque[Outgoing] = deque()
        self._by_key: dict[str, Outgoing] = {}
        self._nonempty = asyncio.Event()
        self.dropped = 0  # routine alerts shed because the queue was full
        self.dropped_critical = 0  # only past critical_capacity pending criticals
        self.merged = 0  # alerts folded into a pending one with the same key

    def __len__(self) -> int:
        return len(self._critical) + len(self._routine)

    def push(self, item: Outgoing) -> None:
        """Add an alert; never blocks. Sheds the oldest routine alert when full."""
        if not item.critical and item.key is not None:
            pending = self._by_key.get(item.key)
            if pending is not None:
                pending.text = item.text
                pending.repeats += item.repeats
                pending.silent = pending.silent and item.silent
                self.merged += 1
                return
        if len(self) >= self.capacity:
            if self._routine:
                self._forget(self._routine.popleft())
                self.dropped += 1
            elif not item.critical:
                self.dropped += 1  # the queue holds only criticals: the newcomer yields
                return
        if item.critical:
            if len(self._critical) >= self.critical_capacity:
                self._critical.popleft()
                self.dropped_critical += 1
            self._critical.append(item)
        else:
            self._routine.append(item)
            if item.key is not None:
                self._by_key[item.key] = item
        self._nonempty.set()

    def pop_batch(self, max_chars: int = MAX_MESSAGE_CHARS) -> Batch | None:
        """Take as many pending alerts as fit in one message, criticals first, FIFO within."""
        parts: list[str] = []
        size = 0
        critical = False
        silent = True
        for source in (self._critical, self._routine):
            while source:
                text = source[0].render()
                extra = len(text) + (len(SEPARATOR) if parts else 0)
                if parts and size + extra > max_chars:
                    break
                item = source.popleft()
                self._forget(item)
                if len(text) > max_chars:
                    text = text[: max_chars - 1] + "…"
                    extra = max_chars
                parts.append(text)
                size += extra
                critical = critical or item.critical
                silent = silent and item.silent
            if source:
                break  # the message is full: keep the rest (and the order) for the next one
        if not len(self):
            self._nonempty.clear()
        if not parts:
            return None
        return Batch(SEPARATOR.join(parts), critical, silent, len(parts))

    async def wait(self) -> None:
        """Return once something is pending."""
        while not len(self):
            self._nonempty.clear()
            await self._nonempty.wait()

    def _forget(self, item: Outgoing) -> None:
        if item.key is not None and self._by_key.get(item.key) is item:
            del self._by_key[item.key]
