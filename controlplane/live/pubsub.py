"""In-process publish/subscribe for live updates.

Topics are strings: `tenant:<id>`, `agent:<id>`, `bot:<id>` (and `*` for internal observers
such as metrics and the fan-in benchmark). A message published to several topics reaches a
subscriber once. Publishing never blocks the archive writer: each subscriber has a bounded
queue and, when it falls behind, loses its oldest messages and is flagged `lagged`, which tells
it to re-read the snapshot instead of trusting an incomplete stream.

Tenant scoping is the service layer's job (`services.live.subscribe` checks ownership before
subscribing); this module only routes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

ALL = "*"


@dataclass(frozen=True, slots=True)
class LiveMessage:
    kind: str  # "event" | "bot" | "agent"
    data: dict[str, Any]
    topics: tuple[str, ...]
    published_at: float = field(default_factory=time.time)


class Subscription:
    def __init__(self, hub: PubSub, topics: tuple[str, ...], maxsize: int) -> None:
        self._hub = hub
        self.topics = topics
        self._queue: asyncio.Queue[LiveMessage] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.closed = False

    @property
    def lagged(self) -> bool:
        return self.dropped > 0

    def _offer(self, msg: LiveMessage) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(msg)

    async def get(self) -> LiveMessage:
        return await self._queue.get()

    def get_nowait(self) -> LiveMessage | None:
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def pending(self) -> int:
        return self._queue.qsize()

    async def __aiter__(self) -> AsyncIterator[LiveMessage]:
        while not self.closed:
            yield await self._queue.get()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._hub._remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PubSub:
    def __init__(self) -> None:
        self._by_topic: dict[str, set[Subscription]] = {}

    def subscribe(self, *topics: str, maxsize: int = 1000) -> Subscription:
        if not topics:
            raise ValueError("subscribe to at least one topic")
        sub = Subscription(self, tuple(topics), maxsize)
        for t in topics:
            self._by_topic.setdefault(t, set()).add(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        for t in sub.topics:
            subs = self._by_topic.get(t)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._by_topic[t]

    def has_subscribers(self, topics: Iterable[str], *, include_all: bool = True) -> bool:
        """Whether publishing to `topics` would reach anyone (counting `*` observers unless
        `include_all` is false: those do not make a console that wants fresh data)."""
        if include_all and ALL in self._by_topic:
            return True
        return any(t in self._by_topic for t in topics)

    def publish(self, kind: str, data: dict[str, Any], topics: tuple[str, ...]) -> int:
        """Deliver to every subscriber of any of `topics` (and of `*`); returns how many."""
        targets: set[Subscription] = set()
        for t in (*topics, ALL):
            subs = self._by_topic.get(t)
            if subs:
                targets |= subs
        if not targets:
            return 0
        msg = LiveMessage(kind, data, topics)
        for sub in targets:
            sub._offer(msg)
        return len(targets)

    def subscriber_count(self) -> int:
        return len({s for subs in self._by_topic.values() for s in subs})


def topics_for(tenant_id: int, agent_id: int, bot_id: int | None = None) -> tuple[str, ...]:
    out = (f"tenant:{tenant_id}", f"agent:{agent_id}")
    return (*out, f"bot:{bot_id}") if bot_id is not None else out
