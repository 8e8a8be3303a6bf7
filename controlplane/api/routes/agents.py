"""Agents: register (admin), list, inspect."""

from __future__ import annotations

from fastapi import APIRouter, status

from controlplane.api.deps import CP, Who
from controlplane.schemas import AgentCreate, AgentDetail, AgentOut
from controlplane.services import agents

router = APIRouter(prefix="/agents", tags=["agents"])


@router.get("", response_model=list[AgentOut])
async def list_agents(cp: CP, who: Who) -> list[AgentOut]:
    return await agents.list_agents(cp, who)


@router.post("", response_model=AgentDetail, status_code=status.HTTP_201_CREATED)
async def register_agent(cp: CP, who: Who, body: AgentCreate) -> AgentDetail:
    """Store how to reach an agent (token and client key encrypted) and start its link."""
    return await agents.register_agent(cp, who, body)


@router.get(
    "/{agent_id}", response_model=AgentDetail, responses={404: {"description": "no such agent"}}
)
async def get_agent(cp: CP, who: Who, agent_id: int) -> AgentDetail:
    return await agents.get_agent(cp, who, agent_id)
