"""The control plane as one object: database, secret box, live state, pub/sub, archive writer
and agent links. The FastAPI app, the console and `mmbot demo` all embed one of these; the
service layer takes it as its first argument.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from controlplane.core.config import Settings
from controlplane.core.secrets import SecretBox, load_key
from controlplane.db import schema
from controlplane.db.engine import make_async_engine, session_factory
from controlplane.links.archive import ArchiveWriter
from controlplane.links.base import Connector
from controlplane.links.manager import LinkManager
from controlplane.live.pubsub import PubSub
from controlplane.live.view import LiveState
from controlplane.metrics import Metrics

log = logging.getLogger("mmbot.controlplane")

STOP_STEP_SECONDS = 15.0


class ControlPlane:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        connector: Connector | None = None,
        engine: AsyncEngine | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.database_url = self.settings.effective_database_url
        self.engine = engine or make_async_engine(self.database_url)
        self._owns_engine = engine is None
        self.sessions = session_factory(self.engine)
        self.box = SecretBox(load_key(self.settings.secret_key, self.settings.default_key_file))
        self.metrics = Metrics()
        self.pubsub = PubSub()
        self.live = LiveState()
        if connector is None:
            from controlplane.links.grpc_conn import GrpcConnector

            connector = GrpcConnector(self.settings.link_rpc_timeout_seconds)
        self.connector = connector
        self.archive = ArchiveWriter(self)
        self.links = LinkManager(self)
        self._bot_locks: dict[int, asyncio.Lock] = {}
        self.started = False
        self.metrics.gauge(
            "mmbot_cp_archive_queue_batches",
            "Event batches waiting for the archive writer",
            lambda: float(self.archive.queue_depth()),
        )
        self.metrics.gauge(
            "mmbot_cp_agents_online",
            "Agents with a live link",
            lambda: float(sum(1 for a in self.live.agents.values() if a.online)),
        )
        self.metrics.gauge(
            "mmbot_cp_live_subscribers",
            "Live-update subscribers",
            lambda: float(self.pubsub.subscriber_count()),
        )

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as s:
            yield s

    def bot_lock(self, bot_id: int) -> asyncio.Lock:
        """Serialises config changes of one bot (API pushes and imports from the agent)."""
        lock = self._bot_locks.get(bot_id)
        if lock is None:
            lock = self._bot_locks[bot_id] = asyncio.Lock()
        return lock

    async def start(self) -> None:
        """Refuse an outdated schema, then start the archive writer and the agent links."""
        await asyncio.to_thread(schema.require_current, self.database_url)
        self.archive.start()
        if self.settings.start_links:
            await self.links.start()
        self.started = True
        log.info("control plane started (%d agent links)", len(self.links.links))

    async def stop(self) -> None:
        """Links first (no new events), then the writer (commits what it holds), then the
        pool. Each step is bounded: a stuck step is logged with the tasks still pending, and
        shutdown goes on."""
        await _bounded(self.links.stop(), STOP_STEP_SECONDS, "agent links")
        await _bounded(self.archive.stop(), STOP_STEP_SECONDS, "archive writer")
        if self._owns_engine:
            await _bounded(self.engine.dispose(), STOP_STEP_SECONDS, "database pool")
        self.started = False


async def _bounded(step: Awaitable[None], seconds: float, what: str) -> None:
    try:
        await asyncio.wait_for(step, seconds)
    except TimeoutError:
        pending = [
            f"{t.get_name()}: {t.get_coro()!r}"
            for t in asyncio.all_tasks()
            if t is not asyncio.current_task()
        ]
        log.error("stopping the %s took over %.0fs; pending tasks: %s", what, seconds, pending)
