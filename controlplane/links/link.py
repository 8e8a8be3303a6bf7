"""One agent's link: connect, catch up, follow, and come back after any failure.

A session: GetInfo (version, bots, last seq) → mirror the bots and import configs we do not
have → seed each bot's live view from the agent's own status and open orders → forward pending
credentials → follow StreamEvents from the last seq handed to the archive, while polling
status for the parts of the view that events do not carry (ladder, risk, balances). Any error
ends the session; the link waits (exponential backoff with jitter) and starts a new one from
the same cursor, so across disconnects nothing is skipped and nothing is archived twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import time
from typing import TYPE_CHECKING

from controlplane.links import sync
from controlplane.links.base import AgentConnection, AgentError, AgentErrorCode, RemoteInfo
from controlplane.live.pubsub import topics_for
from controlplane.live.view import LiveEvent
from controlplane.models import Agent, Bot

if TYPE_CHECKING:
    from controlplane.runtime import ControlPlane

log = logging.getLogger("mmbot.controlplane.link")

STABLE_SESSION_SECONDS = 30.0
INFO_EVERY_POLLS = 6


class JournalBehind(Exception):
    """The agent's journal ends before our archive: its data dir was reset or replaced."""


class AgentLink:
    def __init__(self, cp: ControlPlane, agent_id: int, tenant_id: int, name: str) -> None:
        self.cp = cp
        self.agent_id = agent_id
        self.tenant_id = tenant_id
        self.name = name
        self.view = cp.live.agent(agent_id, tenant_id, name)
        self.cursor: int | None = None  # the last seq handed to the archive writer
        self.conn: AgentConnection | None = None
        self.bots: dict[str, Bot] = {}
        self.sessions = 0

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        s = self.cp.settings
        backoff = s.link_backoff_min_seconds
        while True:
            started = time.monotonic()
            try:
                await self._session()
                reason = "the agent ended the session"
            except asyncio.CancelledError:
                raise
            except AgentError as exc:
                reason = f"{exc.code.value}: {exc.message}"
                self.cp.metrics.link_failures.labels(exc.code.value).inc()
            except JournalBehind as exc:
                reason = str(exc)
                self.cp.metrics.link_failures.labels("journal_behind").inc()
            except Exception as exc:
                log.exception("link to agent %s failed", self.name)
                reason = f"internal: {type(exc).__name__}"
                self.cp.metrics.link_failures.labels("internal").inc()
            await self._offline(reason)
            if time.monotonic() - started > STABLE_SESSION_SECONDS:
                backoff = s.link_backoff_min_seconds
            await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, s.link_backoff_max_seconds)

    async def _offline(self, reason: str) -> None:
        was_online = self.view.online
        self.view.online = False
        self.view.connected_since = None
        self.view.error = reason
        if was_online:
            log.warning("agent %s offline: %s", self.name, reason)
        self._publish_agent()
        with contextlib.suppress(Exception):
            seen = self.view.last_seen
            await sync.record_contact(
                self.cp,
                self.agent_id,
                error=reason,
                seen=dt.datetime.fromtimestamp(seen, dt.UTC) if seen is not None else None,
            )

    def _publish_agent(self) -> None:
        self.cp.pubsub.publish(
            "agent", self.view.snapshot(), topics_for(self.tenant_id, self.agent_id)
        )

    # ------------------------------------------------------------------ one session
    async def _session(self) -> None:
        target, agent = await sync.load_target(self.cp, self.agent_id)
        if self.cursor is None:
            self.cursor = agent.archived_seq
            self.view.archived_seq = agent.archived_seq
        conn = self.cp.connector.connect(target)
        try:
            info = await conn.info()
            if info.last_seq < self.cursor:
                raise JournalBehind(
                    f"the agent's journal ends at seq {info.last_seq} but the archive already "
                    f"holds seq {self.cursor}: was the agent's data dir reset? Not following it"
                )
            self.sessions += 1
            self.cp.metrics.link_connects.inc()
            # Bounded: after a control-plane restart every agent reconnects at once, and the
            # set-up queries of a thousand links must not starve the archive writer.
            async with self.cp.links.setup_slots:
                await self._mirror(conn, agent, info)
                await sync.push_credentials(self.cp, conn, self.agent_id)
            self.conn = conn
            now = time.time()
            self.view.online = True
            self.view.connected_since = now
            self.view.last_seen = now
            self.view.version = info.version
            self.view.error = ""
            self._publish_agent()
            log.info("agent %s online (v%s, seq %d)", self.name, info.version, info.last_seq)
            await self._follow(conn)
        finally:
            self.conn = None
            await conn.close()

    async def _mirror(self, conn: AgentConnection, agent: Agent, info: RemoteInfo) -> None:
        bots = await sync.sync_bots(self.cp, agent, info)
        self.bots = {b.name: b for b in bots}
        for rb in info.bots:
            b = self.bots.get(rb.name)
            if b is None or b.id is None:
                continue
            if rb.config_version and rb.config_version != b.agent_config_version:
                await sync.import_config(
                    self.cp, conn, b, rb.config_version, comment="found on the agent"
                )
            view = self.cp.live.bot(b.id, self.agent_id, self.tenant_id, b.name)
            # The stream may be running (a re-mirror from _poll): what it applies while the
            # snapshot is in flight is newer than the snapshot, and the seed re-applies it.
            view.begin_seed()
            status = await conn.status(rb.name)
            orders = await conn.open_orders(rb.name)
            view.seed(status, orders, as_of_seq=info.last_seq)
            if agent.archived_seq > 0:  # a new agent has no history to show yet
                fills, events = await sync.recent_from_archive(self.cp, b.id)
                view.seed_recent(fills, events)

    async def _follow(self, conn: AgentConnection) -> None:
        tasks = [
            asyncio.create_task(self._stream(conn), name=f"stream:{self.name}"),
            asyncio.create_task(self._poll(conn), name=f"poll:{self.name}"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                t.result()  # re-raise the error that ended the session
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    async def _stream(self, conn: AgentConnection) -> None:
        assert self.cursor is not None
        async for batch in conn.events(self.cursor):
            self.view.last_seen = time.time()
            fresh = [e for e in batch if e.seq > self.cursor]
            if not fresh:
                continue
            if fresh[0].seq != self.cursor + 1:
                log.warning(
                    "agent %s: seq jumps from %d to %d (journal pruned?)",
                    self.name,
                    self.cursor,
                    fresh[0].seq,
                )
            await self.cp.archive.submit(self.agent_id, self.tenant_id, fresh)
            self.cursor = fresh[-1].seq

    def _watched(self) -> bool:
        """Whether someone (a console) follows this agent or one of its bots right now."""
        ps = self.cp.pubsub
        if ps.has_subscribers(topics_for(self.tenant_id, self.agent_id), include_all=False):
            return True
        return any(
            ps.has_subscribers((f"bot:{b.id}",), include_all=False) for b in self.bots.values()
        )

    async def _poll(self, conn: AgentConnection) -> None:
        """Full status (the ladder, risk and balances the events do not carry) every few
        seconds while someone watches, else every half minute; also proof of life: a poll
        that fails ends the session even when the stream is quiet."""
        settings = self.cp.settings
        n = 0
        last = time.monotonic()
        while True:
            await asyncio.sleep(settings.link_status_interval_seconds)
            idle_for = time.monotonic() - last
            if idle_for < settings.link_idle_status_interval_seconds and not self._watched():
                continue
            last = time.monotonic()
            n += 1
            if n % INFO_EVERY_POLLS == 0:
                info = await conn.info()
                if {b.name for b in info.bots} != set(self.bots):
                    async with self.cp.session() as s:
                        agent = await s.get(Agent, self.agent_id)
                    if agent is not None:
                        await self._mirror(conn, agent, info)
            for name, bot in list(self.bots.items()):
                view = self.cp.live.bots.get(bot.id) if bot.id is not None else None
                asked_at = view.state_seq if view is not None else None
                try:
                    status = await conn.status(name)
                except AgentError as exc:
                    if exc.code is AgentErrorCode.NOT_FOUND:
                        continue
                    raise
                if view is not None and bot.id is not None:
                    view.refresh_status(status, asked_at_seq=asked_at)
                    topics = topics_for(self.tenant_id, self.agent_id, bot.id)
                    if self.cp.pubsub.has_subscribers(topics):
                        self.cp.pubsub.publish("bot", {"bot_id": bot.id, **view.snapshot()}, topics)
            self.view.last_seen = time.time()  # persisted in bulk by the LinkManager

    # ------------------------------------------------------------------ changes made on the agent
    async def on_config_event(self, ev: LiveEvent) -> None:
        conn = self.conn
        version = ev.data.get("version")
        bot = self.bots.get(ev.bot)
        if conn is None or bot is None or not isinstance(version, int):
            return  # the next session's mirror step imports it
        try:
            await sync.import_config(
                self.cp,
                conn,
                bot,
                version,
                author=str(ev.data.get("author") or "agent"),
                comment=str(ev.data.get("comment") or ""),
            )
        except AgentError as exc:
            log.warning("could not import config v%s of %s: %s", version, ev.bot, exc.message)
