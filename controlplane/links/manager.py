"""Starts one supervised link task per registered agent, and stops them.

A link's own loop survives every agent or network failure; the supervisor is the second line,
restarting a link whose loop died of a bug, so one bad agent never stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import TYPE_CHECKING

from sqlmodel import select

from controlplane.links.base import AgentConnection
from controlplane.links.link import AgentLink
from controlplane.live.view import LiveEvent
from controlplane.models import Agent

if TYPE_CHECKING:
    from controlplane.runtime import ControlPlane

log = logging.getLogger("mmbot.controlplane.links")

RESTART_SECONDS = 5.0
LAST_SEEN_EVERY_SECONDS = 30.0
SETUP_CONCURRENCY = 16


class LinkManager:
    def __init__(self, cp: ControlPlane) -> None:
        self.cp = cp
        self.links: dict[int, AgentLink] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.setup_slots = asyncio.Semaphore(SETUP_CONCURRENCY)
        cp.archive.config_listeners.append(self._on_config)

    async def start(self) -> None:
        async with self.cp.session() as s:
            agents = (await s.exec(select(Agent))).all()
        for a in agents:
            assert a.id is not None
            self.add(a.id, a.tenant_id, a.name)
        task = asyncio.get_running_loop().create_task(self._persist_last_seen(), name="last-seen")
        self._background.add(task)

    async def _persist_last_seen(self) -> None:
        """Every half minute, the last-seen time of every online agent in one statement, so
        an agent that goes down shows (within that) when it was last heard from, even after
        a control-plane restart."""
        while True:
            await asyncio.sleep(LAST_SEEN_EVERY_SECONDS)
            seen = {
                a: dt.datetime.fromtimestamp(link.view.last_seen, dt.UTC)
                for a, link in self.links.items()
                if link.view.online and link.view.last_seen is not None
            }
            self.cp.archive.note_seen(seen)

    def add(self, agent_id: int, tenant_id: int, name: str) -> AgentLink:
        if agent_id in self.links:
            return self.links[agent_id]
        link = self.links[agent_id] = AgentLink(self.cp, agent_id, tenant_id, name)
        self._tasks[agent_id] = asyncio.get_running_loop().create_task(
            self._supervise(link), name=f"link:{name}"
        )
        return link

    async def _supervise(self, link: AgentLink) -> None:
        while True:
            try:
                await link.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("link to agent %s died; restarting", link.name)
                await asyncio.sleep(RESTART_SECONDS)

    async def remove(self, agent_id: int) -> None:
        task = self._tasks.pop(agent_id, None)
        self.links.pop(agent_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.cp.archive.forget_agent(agent_id)
        self.cp.live.drop_agent(agent_id)

    async def stop(self) -> None:
        tasks = list(self._tasks.values()) + list(self._background)
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        self.links.clear()

    def connection(self, agent_id: int) -> AgentConnection | None:
        link = self.links.get(agent_id)
        return link.conn if link is not None else None

    def _on_config(self, ev: LiveEvent) -> None:
        link = self.links.get(ev.agent_id)
        if link is None:
            return
        task = asyncio.get_running_loop().create_task(link.on_config_event(ev))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
