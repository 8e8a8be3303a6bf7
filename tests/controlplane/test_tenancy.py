"""Tenant isolation: tenant A cannot read or steer anything of tenant B. Foreign ids answer
404, exactly like ids that do not exist, and listings never include them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from controlplane.runtime import ControlPlane
from controlplane.services import bots as bot_service
from controlplane.services.errors import NotFound
from tests.controlplane.agents import bot_id, register
from tests.controlplane.conftest import new_tenant
from tests.test_grpc_helpers import live_agent

V1 = "/api/v1"


async def test_tenant_a_cannot_read_or_steer_tenant_b(
    cp: ControlPlane, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    a, b = await new_tenant(cp), await new_tenant(cp)
    async with live_agent(tmp_path / "agent-b") as agent:
        aid = await register(cp, b, agent)
        bid = await bot_id(cp, aid)
        cfg = (await api.get(f"{V1}/bots/{bid}/configs/1", headers=b.headers)).json()["config"]
        # B sees its own things
        assert (await api.get(f"{V1}/bots/{bid}", headers=b.headers)).status_code == 200
        # A sees nothing of B in listings
        assert (await api.get(f"{V1}/agents", headers=a.headers)).json() == []
        assert (await api.get(f"{V1}/bots", headers=a.headers)).json() == []
        audit = (await api.get(f"{V1}/audit", headers=a.headers)).json()["items"]
        assert {e["actor"] for e in audit} == {a.username}  # only A's own login
        # ... and every id of B is a 404 for A, reads and writes alike
        reads = [
            f"/agents/{aid}",
            f"/bots/{bid}",
            f"/bots/{bid}/orders",
            f"/bots/{bid}/fills",
            f"/bots/{bid}/events",
            f"/bots/{bid}/stats",
            f"/bots/{bid}/configs",
            f"/bots/{bid}/configs/1",
            f"/bots/{bid}/configs/1/diff/1",
        ]
        for path in reads:
            r = await api.get(V1 + path, headers=a.headers)
            assert r.status_code == 404, path
        writes = [
            ("POST", f"/bots/{bid}/configs", {"config": cfg}),
            ("POST", f"/bots/{bid}/configs?dry_run=true", {"config": cfg}),
            ("POST", f"/bots/{bid}/configs/1/rollback", None),
            ("PUT", f"/bots/{bid}/credentials", {"api_key": "k", "secret": "s"}),
            ("DELETE", f"/bots/{bid}/credentials", None),
            *[("POST", f"/bots/{bid}/commands/{c}", None) for c in ("pause", "stop", "kill")],
        ]
        for method, path, body in writes:
            r = await api.request(method, V1 + path, json=body, headers=a.headers)
            assert r.status_code == 404, (method, path, r.text)
        # a foreign id reads exactly like a missing one
        missing = await api.get(f"{V1}/bots/999999", headers=a.headers)
        foreign = await api.get(f"{V1}/bots/{bid}", headers=a.headers)
        assert missing.json()["detail"].replace("999999", str(bid)) == foreign.json()["detail"]
        # nothing reached B's agent: still running, no credentials, config unchanged
        assert agent.host.handle("ushark-mm").bot.state.value == "RUNNING"
        assert agent.credentials.get("ushark-mm") is None
        assert agent.host.handle("ushark-mm").version == 1
        # and live updates cannot be subscribed across tenants either
        with pytest.raises(NotFound):
            await bot_service.subscribe(cp, a.who, bot_id=bid)
        with pytest.raises(NotFound):
            await bot_service.subscribe(cp, a.who, agent_id=aid)
