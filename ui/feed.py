"""Pushing the control plane's change feed into a page.

Each open page holds one subscription (from `services.bots.subscribe`, which checks that the
user may see it) and one task that waits on it. Messages are handled in batches at most every
`min_interval` seconds so a busy bot does not flood the browser; when the subscription lagged
(its queue overflowed) the page re-reads the full snapshot instead of trusting the stream.
The task and the subscription end with the browser tab.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from nicegui import background_tasks, ui

from controlplane.live.pubsub import LiveMessage, Subscription

log = logging.getLogger("mmbot.ui")

Handler = Callable[[list[LiveMessage], bool], Awaitable[None]]


def follow(sub: Subscription, handle: Handler, min_interval: float = 0.5) -> None:
    """Run `handle(batch, lagged)` for the page's client until it goes away."""
    client = ui.context.client

    async def pump() -> None:
        try:
            while not sub.closed:
                first = await sub.get()
                batch = [first]
                while (m := sub.get_nowait()) is not None:
                    batch.append(m)
                lagged = sub.lagged
                sub.dropped = 0
                try:
                    with client:
                        await handle(batch, lagged)
                except Exception:  # one bad update must not end the live view
                    log.exception("live update failed")
                await asyncio.sleep(min_interval)
        finally:
            sub.close()

    task = background_tasks.create(pump(), name="console-feed")

    def stop() -> None:
        sub.close()
        if not task.done():
            task.cancel()

    client.on_delete(stop)
