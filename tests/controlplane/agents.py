"""Running real agents for control-plane tests: the AgentHost with a sim bot and the real
gRPC server (tests.test_grpc_helpers.live_agent), registered with a control plane."""

from __future__ import annotations

from controlplane.runtime import ControlPlane
from controlplane.schemas import AgentCreate, TlsIn
from controlplane.services import agents
from tests.controlplane.conftest import Tenant, wait_until
from tests.test_grpc_helpers import LiveAgent


async def register(
    cp: ControlPlane,
    tenant: Tenant,
    agent: LiveAgent | None = None,
    *,
    name: str = "vps-1",
    endpoint: str | None = None,
    tls: TlsIn | None = None,
    token: str | None = None,
    wait_online: bool = True,
) -> int:
    body = AgentCreate(
        name=name,
        endpoint=endpoint or (agent.target if agent else "127.0.0.1:1"),
        token=token or (agent.token if agent else "x" * 20),
        tls=tls,
    )
    detail = await agents.register_agent(cp, tenant.who, body)
    if wait_online:
        await wait_until(lambda: cp.links.connection(detail.id) is not None)
    return detail.id


async def bot_id(cp: ControlPlane, agent_id: int, name: str = "ushark-mm") -> int:
    link = cp.links.links[agent_id]
    await wait_until(lambda: name in link.bots)
    bid = link.bots[name].id
    assert bid is not None
    return bid
