"""Lifecycle commands. 409 carries the agent's reason when the bot's state refuses one."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from controlplane.api.deps import CP, Who
from controlplane.schemas import CommandOut
from controlplane.services import commands

router = APIRouter(prefix="/bots/{bot_id}/commands", tags=["commands"])

Command = Literal["start", "pause", "resume", "stop", "cancel-all", "kill"]


@router.post(
    "/{command}",
    response_model=CommandOut,
    responses={
        404: {"description": "no such bot"},
        409: {"description": "refused in the bot's state (the agent's reason)"},
        503: {"description": "the bot's agent is offline"},
    },
)
async def run_command(cp: CP, who: Who, bot_id: int, command: Command) -> CommandOut:
    """confirmed=false means the outcome is unknown (e.g. a cancel the venue did not confirm)."""
    return await commands.run_command(cp, who, bot_id, command)
