"""The REST API against a real agent over gRPC: bots, live status, configs, commands,
credentials and the audit trail."""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from controlplane.runtime import ControlPlane
from tests.controlplane.agents import bot_id, register
from tests.controlplane.conftest import Tenant, new_tenant, wait_until
from tests.test_grpc_helpers import USHARK, LiveAgent, live_agent

V1 = "/api/v1"


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[LiveAgent]:
    async with live_agent(tmp_path / "agent") as a:
        yield a


@pytest.fixture
async def setup(cp: ControlPlane, agent: LiveAgent) -> tuple[Tenant, int, int]:
    t = await new_tenant(cp)
    aid = await register(cp, t, agent)
    return t, aid, await bot_id(cp, aid)


def ushark(**mm: Any) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(USHARK.read_text())
    doc["market_making"].update(mm)
    return doc


async def test_agents_and_bots_are_listed_with_live_status(
    cp: ControlPlane, api: httpx.AsyncClient, agent: LiveAgent, setup: tuple[Tenant, int, int]
) -> None:
    t, aid, bid = setup
    agents = (await api.get(f"{V1}/agents", headers=t.headers)).json()
    assert [(a["id"], a["online"], a["bots"]) for a in agents] == [(aid, True, 1)]
    detail = (await api.get(f"{V1}/agents/{aid}", headers=t.headers)).json()
    assert detail["version"] and detail["tls"] is False and agent.token not in str(detail)
    assert not {k for k in detail if "token" in k} - {"telegram_token_updated_at"}
    bots = (await api.get(f"{V1}/bots", headers=t.headers)).json()
    assert [(b["id"], b["name"], b["venue"], b["symbol"]) for b in bots] == [
        (bid, "ushark-mm", "sim", "USHARK/USDT")
    ]
    # The config found on the agent is imported as version 1 and marked applied.
    assert bots[0]["applied_version"] == 1 and bots[0]["agent_config_version"] == 1
    bot = (await api.get(f"{V1}/bots/{bid}", headers=t.headers)).json()
    live = bot["live"]
    assert bot["online"] and live["state"] == "RUNNING"
    assert Decimal(live["status"]["mid"]) > 0
    assert set(live["balances"]) == {"USHARK", "USDT"}
    assert live["risk"]["status"] in ("OK", "WARN")
    await wait_until(lambda: cp.live.bots[bid].open_orders)
    bot = (await api.get(f"{V1}/bots/{bid}", headers=t.headers)).json()
    open_ids = {o["client_order_id"] for o in bot["live"]["open_orders"]}
    agent_open = {o.client_order_id for o in agent.host.journal.orders("ushark-mm", open_only=True)}
    assert open_ids & agent_open


async def test_archive_listings_page_newest_first(
    cp: ControlPlane, api: httpx.AsyncClient, agent: LiveAgent, setup: tuple[Tenant, int, int]
) -> None:
    from tests.test_grpc_helpers import emit_fill

    t, aid, bid = setup
    for n in range(5):
        emit_fill(agent.host, n)
    target = agent.host.bus.last_seq
    await wait_until(lambda: cp.live.agents[aid].archived_seq >= target)
    await cp.archive.drain()
    page1 = (await api.get(f"{V1}/bots/{bid}/fills?limit=3", headers=t.headers)).json()
    assert [f["trade_id"] for f in page1["items"]] == ["t-4", "t-3", "t-2"]
    assert page1["items"][0]["price"] == "0.0020001"  # exact, as a string
    page2 = (
        await api.get(
            f"{V1}/bots/{bid}/fills?limit=3&cursor={page1['next_cursor']}", headers=t.headers
        )
    ).json()
    assert [f["trade_id"] for f in page2["items"]] == ["t-1", "t-0"]
    assert page2["next_cursor"] is None
    orders = (await api.get(f"{V1}/bots/{bid}/orders?status=open", headers=t.headers)).json()
    assert orders["items"] and all(
        o["status"] not in ("FILLED", "CANCELED") for o in orders["items"]
    )
    ev = (await api.get(f"{V1}/bots/{bid}/events?kind=fill&kind=state", headers=t.headers)).json()
    assert {e["kind"] for e in ev["items"]} <= {"fill", "state"}
    seqs = [e["seq"] for e in ev["items"]]
    assert seqs == sorted(seqs, reverse=True)
    bad = await api.get(f"{V1}/bots/{bid}/events?kind=nonsense", headers=t.headers)
    assert bad.status_code == 422
    stats = (await api.get(f"{V1}/bots/{bid}/stats", headers=t.headers)).json()
    assert stats[0]["fills"] >= 5
    assert Decimal(stats[0]["volume_quote"]) >= Decimal("0.0020001") * (1000 + 1001 + 1002)


async def test_config_validate_apply_diff_rollback(
    cp: ControlPlane, api: httpx.AsyncClient, agent: LiveAgent, setup: tuple[Tenant, int, int]
) -> None:
    t, _aid, bid = setup
    url = f"{V1}/bots/{bid}/configs"
    # dry run: validated, previewed, nothing changes
    r = await api.post(
        f"{url}?dry_run=true", json={"config": ushark(spread_min_pct=0.8)}, headers=t.headers
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["valid"] is True and body["config"]["market_making"]["spread_min_pct"] == "0.8"
    assert body["preview"]["bids"] and body["preview"]["asks"]
    assert agent.host.handle("ushark-mm").version == 1
    # invalid: 422 with field paths, nothing changes
    bad = ushark(spread_min_pct=3, spread_max_pct=2, step_pct=-1)
    r = await api.post(url, json={"config": bad}, headers=t.headers)
    assert r.status_code == 422
    locs = {tuple(e["loc"]) for e in r.json()["detail"]}
    assert ("body", "config", "market_making", "step_pct") in locs
    immut = copy.deepcopy(ushark())
    immut["bot"]["symbol"] = "OTHER/USDT"
    r = await api.post(url, json={"config": immut}, headers=t.headers)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "symbol"
    assert [v["version"] for v in (await api.get(url, headers=t.headers)).json()] == [1]
    assert agent.host.handle("ushark-mm").version == 1
    # apply
    r = await api.post(
        url, json={"config": ushark(spread_min_pct=0.8), "comment": "wider"}, headers=t.headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 2 and r.json()["agent_version"] == 2
    h = agent.host.handle("ushark-mm")
    assert h.version == 2 and h.bot.config.market_making.spread_min_pct == Decimal("0.8")
    # optimistic concurrency
    r = await api.post(url, json={"config": ushark(), "expected_version": 1}, headers=t.headers)
    assert r.status_code == 409 and "version 2" in r.json()["detail"]
    versions = (await api.get(url, headers=t.headers)).json()
    assert [(v["version"], v["applied"], v["author"]) for v in versions] == [
        (2, True, t.username),
        (1, False, "agent"),
    ]
    v2 = (await api.get(f"{url}/2", headers=t.headers)).json()
    assert v2["comment"] == "wider" and v2["config"]["market_making"]["spread_min_pct"] == "0.8"
    d = (await api.get(f"{url}/1/diff/2", headers=t.headers)).json()
    assert [c["path"] for c in d["changes"]] == ["market_making.spread_min_pct"]
    assert d["changes"][0]["from"] == "0.4" and d["changes"][0]["to"] == "0.8"
    assert "-  spread_min_pct: '0.4'" in d["unified"]
    assert (await api.get(f"{url}/9/diff/2", headers=t.headers)).status_code == 404
    # rollback: version 1's config as version 3
    r = await api.post(f"{url}/1/rollback", headers=t.headers)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 3
    assert agent.host.handle("ushark-mm").bot.config.market_making.spread_min_pct == Decimal("0.4")
    # a change made on the agent itself is imported as a new version
    await agent.host.apply_config(
        "ushark-mm", ushark(spread_min_pct=0.5), expected_version=None, author="ops", comment="cli"
    )

    async def imported() -> bool:
        vs = (await api.get(url, headers=t.headers)).json()
        return bool(vs[0]["version"] == 4 and vs[0]["author"] == "ops" and vs[0]["applied"])

    await wait_until(imported)


async def test_commands_and_refusals(
    cp: ControlPlane, api: httpx.AsyncClient, agent: LiveAgent, setup: tuple[Tenant, int, int]
) -> None:
    t, _aid, bid = setup
    cmd = f"{V1}/bots/{bid}/commands"
    r = await api.post(f"{cmd}/pause", headers=t.headers)
    assert r.status_code == 200 and r.json()["state"] == "PAUSED" and r.json()["confirmed"]
    r = await api.post(f"{cmd}/pause", headers=t.headers)
    assert r.status_code == 409 and "cannot pause while PAUSED" in r.json()["detail"]
    r = await api.post(f"{cmd}/resume", headers=t.headers)
    assert r.status_code == 200 and r.json()["state"] == "RUNNING"
    assert (await api.post(f"{cmd}/explode", headers=t.headers)).status_code == 422
    audit = (await api.get(f"{V1}/audit", headers=t.headers)).json()["items"]
    seen = [(a["action"], a["outcome"]) for a in audit]
    assert ("bot.pause", "ok") in seen and ("bot.pause", "refused") in seen
    assert ("bot.resume", "ok") in seen


async def test_credentials_are_write_only_and_reach_the_agent(
    cp: ControlPlane,
    api: httpx.AsyncClient,
    agent: LiveAgent,
    setup: tuple[Tenant, int, int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    t, _aid, bid = setup
    secret = "S3CRET-venue-secret-value"
    api_key = "AK-venue-key-value"
    url = f"{V1}/bots/{bid}/credentials"
    r = await api.put(url, json={"api_key": api_key, "secret": secret}, headers=t.headers)
    assert r.status_code == 200
    assert r.json()["pushed"] is True and secret not in r.text and api_key not in r.text
    stored = agent.credentials.get("ushark-mm")
    assert stored is not None and stored.secret == secret
    assert (await api.get(url, headers=t.headers)).status_code == 405
    bot = (await api.get(f"{V1}/bots/{bid}", headers=t.headers)).json()
    assert bot["has_credentials"] is True and secret not in str(bot)
    bad = await api.put(url, json={"api_key": "", "secret": "x"}, headers=t.headers)
    assert bad.status_code == 422
    assert (await api.delete(url, headers=t.headers)).status_code == 204
    bot = (await api.get(f"{V1}/bots/{bid}", headers=t.headers)).json()
    assert bot["has_credentials"] is False
    audit = (await api.get(f"{V1}/audit", headers=t.headers)).text
    assert "credentials.set" in audit and secret not in audit and api_key not in audit
    # nothing secret in the database outside the ciphertext, nor in any log line
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for s in (secret, api_key, agent.token):
        assert s not in logs
