"""Lifecycle commands (start, pause, resume, stop, cancel-all, kill), for every channel.

The agent's lifecycle table decides; a refusal comes back as Conflict with the agent's own
reason ("cannot resume while RUNNING ..."). Every attempt is audited with its outcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from controlplane.links.base import COMMANDS, AgentError
from controlplane.models import Agent, Role
from controlplane.schemas import CommandOut
from controlplane.services.common import audit, bot_for, connection, from_agent_error
from controlplane.services.errors import Invalid, ServiceError
from controlplane.services.principal import Principal

if TYPE_CHECKING:
    from controlplane.runtime import ControlPlane


async def run_command(cp: ControlPlane, who: Principal, bot_id: int, command: str) -> CommandOut:
    if command not in COMMANDS:
        raise Invalid.one(("path", "command"), f"must be one of {', '.join(COMMANDS)}")
    async with cp.session() as s:
        bot = await bot_for(s, who, bot_id)
        agent = await s.get(Agent, bot.agent_id)
    assert agent is not None
    who.require(Role.OPERATOR, f"the {command} command")
    target = f"bot:{bot_id}"
    try:
        conn = connection(cp, bot.agent_id, agent.name)
        out = await conn.command(bot.name, command)
    except (AgentError, ServiceError) as exc:
        err = from_agent_error(exc) if isinstance(exc, AgentError) else exc
        await audit(cp, who, f"bot.{command}", target, "refused", reason=str(err))
        raise err from None
    await audit(
        cp,
        who,
        f"bot.{command}",
        target,
        "ok" if out.confirmed else "unconfirmed",
        state=out.state,
        message=out.message,
    )
    view = cp.live.bots.get(bot_id)
    if view is not None and out.state:
        view.state = out.state
    return CommandOut(
        bot_id=bot_id,
        command=command,
        state=out.state,
        confirmed=out.confirmed,
        message=out.message,
    )
