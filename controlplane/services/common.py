"""Helpers shared by the service modules: tenant-scoped lookups, the audit trail, and the
translation of agent errors into service errors."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from controlplane.links.base import AgentConnection, AgentError, AgentErrorCode
from controlplane.models import Agent, AuditEntry, Bot
from controlplane.services.errors import Conflict, Invalid, NotFound, Unavailable
from controlplane.services.principal import Principal

if TYPE_CHECKING:
    from controlplane.runtime import ControlPlane

log = logging.getLogger("mmbot.controlplane.audit")

ID_MAX = 2**31 - 1


async def bot_for(s: AsyncSession, who: Principal, bot_id: int) -> Bot:
    """The caller's bot, or NotFound — for a foreign id exactly as for a missing one."""
    if not 1 <= bot_id <= ID_MAX:
        raise NotFound(f"no bot {bot_id}")
    bot = (
        await s.exec(select(Bot).where(Bot.id == bot_id, Bot.tenant_id == who.tenant_id))
    ).first()
    if bot is None:
        raise NotFound(f"no bot {bot_id}")
    return bot


async def agent_for(s: AsyncSession, who: Principal, agent_id: int) -> Agent:
    if not 1 <= agent_id <= ID_MAX:
        raise NotFound(f"no agent {agent_id}")
    agent = (
        await s.exec(select(Agent).where(Agent.id == agent_id, Agent.tenant_id == who.tenant_id))
    ).first()
    if agent is None:
        raise NotFound(f"no agent {agent_id}")
    return agent


def connection(cp: ControlPlane, agent_id: int, agent_name: str) -> AgentConnection:
    conn = cp.links.connection(agent_id)
    if conn is None:
        live = cp.live.agents.get(agent_id)
        why = f": {live.error}" if live is not None and live.error else ""
        raise Unavailable(f"agent {agent_name} is offline{why}")
    return conn


def from_agent_error(exc: AgentError, loc: tuple[str | int, ...] = ("body", "config")) -> Exception:
    """The service error for an agent's refusal (the agent's reason is kept verbatim)."""
    if exc.code is AgentErrorCode.NOT_FOUND:
        return NotFound(exc.message)
    if exc.code in (AgentErrorCode.REFUSED, AgentErrorCode.CONFLICT):
        return Conflict(exc.message)
    if exc.code is AgentErrorCode.INVALID:
        return Invalid.from_lines(loc, exc.field_errors or [exc.message])
    if exc.code is AgentErrorCode.UNAUTHENTICATED:
        return Unavailable(f"the agent refused the control plane's credentials: {exc.message}")
    return Unavailable(f"agent: {exc.message}")


async def audit(
    cp: ControlPlane,
    who: Principal,
    action: str,
    target: str,
    outcome: str,
    s: AsyncSession | None = None,
    **detail: Any,
) -> None:
    """Record an action. With `s`, in the caller's transaction (so a success and its audit
    entry commit together); without, in its own."""
    entry = AuditEntry(
        tenant_id=who.tenant_id,
        user_id=who.user_id,
        actor=who.actor[:100],
        action=action[:64],
        target=target[:128],
        outcome=outcome[:16],
        detail=detail,
    )
    cp.metrics.audit.labels(action, outcome).inc()
    log.info("%s %s %s -> %s", who.actor, action, target, outcome)
    if s is not None:
        s.add(entry)
        return
    async with cp.session() as own:
        own.add(entry)
        await own.commit()
