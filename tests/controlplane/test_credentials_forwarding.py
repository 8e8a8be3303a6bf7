"""Write-only secrets through the control plane to a real agent over gRPC: an agent's Telegram
bot token and venue-credential deletes, forwarded at once when the agent is online and on
its next connection when it is not; nothing secret in any answer, error or log line."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from agent.credentials import VenueCredentials
from controlplane.runtime import ControlPlane
from controlplane.schemas import CredentialsIn, TelegramTokenIn
from controlplane.services import agents as agent_service
from controlplane.services import bots as bot_service
from controlplane.services import credentials
from tests.controlplane.agents import bot_id, register
from tests.controlplane.conftest import new_tenant, wait_until
from tests.controlplane.proxy import TcpProxy
from tests.test_grpc_helpers import LiveAgent, live_agent

V1 = "/api/v1"
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
TOKEN2 = "987654321:BBHdqTcvCH1vGWJxfSeofSAs0K5PALDsbx"


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[LiveAgent]:
    async with live_agent(tmp_path / "agent") as a:
        yield a


async def test_telegram_token_set_replace_delete_through_the_api(
    cp: ControlPlane,
    api: httpx.AsyncClient,
    agent: LiveAgent,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    t = await new_tenant(cp)
    aid = await register(cp, t, agent)
    url = f"{V1}/agents/{aid}/telegram-token"
    status = (await api.get(url, headers=t.headers)).json()
    assert status == {"agent_id": aid, "has_token": False, "updated_at": None, "pushed": True}

    r = await api.put(url, json={"token": TOKEN}, headers=t.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["has_token"] is True and body["pushed"] is True and TOKEN not in r.text
    assert agent.credentials.telegram_token() == TOKEN
    listed = (await api.get(f"{V1}/agents", headers=t.headers)).json()
    assert listed[0]["telegram_token_updated_at"] == body["updated_at"]
    assert TOKEN not in str(listed)

    # a tired operator's bad inputs: a clear 422 that does not echo the value, nothing changed
    for bad in (
        {"token": "not-a-token"},
        {"token": TOKEN + "\n"},
        {"token": ""},
        {"token": TOKEN, "extra": 1},
        {},
    ):
        r = await api.put(url, json=bad, headers=t.headers)
        assert r.status_code == 422, (bad, r.text)
        assert "not-a-token" not in r.text and TOKEN not in r.text
    assert agent.credentials.telegram_token() == TOKEN

    r = await api.put(url, json={"token": TOKEN2}, headers=t.headers)
    assert r.status_code == 200 and agent.credentials.telegram_token() == TOKEN2

    assert (await api.delete(url, headers=t.headers)).status_code == 204
    assert agent.credentials.has_telegram_token() is False
    status = (await api.get(url, headers=t.headers)).json()
    assert status["has_token"] is False and status["pushed"] is True
    # deleting again is harmless
    assert (await api.delete(url, headers=t.headers)).status_code == 204

    # another tenant sees none of it, and cannot touch it
    other = await new_tenant(cp)
    for method, body_ in (("GET", None), ("PUT", {"token": TOKEN}), ("DELETE", None)):
        r = await api.request(method, url, json=body_, headers=other.headers)
        assert r.status_code == 404
    assert agent.credentials.has_telegram_token() is False

    audit = (await api.get(f"{V1}/audit", headers=t.headers)).text
    assert "telegram_token.set" in audit and "telegram_token.delete" in audit
    logs = "\n".join(rec.getMessage() for rec in caplog.records)
    for secret in (TOKEN, TOKEN2, TOKEN.split(":")[1]):
        assert secret not in logs and secret not in audit


async def test_operator_cannot_set_the_token(cp: ControlPlane, agent: LiveAgent) -> None:
    from controlplane.models import Role
    from controlplane.services.errors import Forbidden

    admin = await new_tenant(cp)
    aid = await register(cp, admin, agent)
    op = await new_tenant(cp, Role.OPERATOR, tenant_id=admin.id)
    with pytest.raises(Forbidden):
        await credentials.set_telegram_token(cp, op.who, aid, TelegramTokenIn(token=TOKEN))
    with pytest.raises(Forbidden):
        await credentials.delete_telegram_token(cp, op.who, aid)
    assert agent.credentials.has_telegram_token() is False


async def test_changes_made_while_the_agent_is_offline_reach_it_when_it_reconnects(
    cp: ControlPlane, agent: LiveAgent
) -> None:
    proxy = TcpProxy("127.0.0.1", agent.server.port)
    await proxy.start()
    try:
        t = await new_tenant(cp)
        aid = await register(cp, t, agent, endpoint=proxy.endpoint)
        bid = await bot_id(cp, aid)
        keys = CredentialsIn(api_key="AK-offline-test", secret="SK-offline-test")
        assert (await credentials.set_credentials(cp, t.who, bid, keys)).pushed is True
        assert agent.credentials.has("ushark-mm")

        await proxy.cut()
        await wait_until(lambda: not cp.live.agents[aid].online)
        out = await credentials.delete_credentials(cp, t.who, bid)
        assert out.pushed is False and out.has_credentials is False
        tg = await credentials.set_telegram_token(cp, t.who, aid, TelegramTokenIn(token=TOKEN))
        assert tg.pushed is False and tg.has_token is True
        # the console lists what is stored here: keys gone, token set (since when)
        (bot,) = await bot_service.list_bots(cp, t.who)
        assert bot.has_credentials is False and bot.credentials_updated_at is None
        (listed,) = await agent_service.list_agents(cp, t.who)
        assert listed.telegram_token_updated_at == tg.updated_at
        # ...while the agent still has its old copy and no token
        assert agent.credentials.has("ushark-mm") and not agent.credentials.has_telegram_token()

        await proxy.restore()
        await wait_until(lambda: cp.links.connection(aid) is not None)
        await wait_until(lambda: agent.credentials.telegram_token() == TOKEN)
        assert not agent.credentials.has("ushark-mm")
        status = await credentials.telegram_token_status(cp, t.who, aid)
        assert status.has_token and status.pushed
        # settled: a later reconnect forwards nothing again
        from controlplane.links import sync

        conn = cp.links.connection(aid)
        assert conn is not None
        assert await sync.push_credentials(cp, conn, aid) == 0

        # set again after the delete: the keys and their date are back
        out2 = await credentials.set_credentials(cp, t.who, bid, keys)
        (bot,) = await bot_service.list_bots(cp, t.who)
        assert bot.has_credentials and bot.credentials_updated_at == out2.updated_at
        assert agent.credentials.has("ushark-mm")
    finally:
        await proxy.close()


class _OldAgent:
    """A connection to an agent that predates DeleteCredentials/DeleteTelegramToken: it
    answers those calls with UNIMPLEMENTED (INTERNAL here), and takes the rest."""

    def __init__(self) -> None:
        self.set: list[str] = []

    async def set_credentials(self, bot: str, creds: object) -> None:
        self.set.append(bot)

    async def set_telegram_token(self, token: str) -> None:
        self.set.append("telegram")

    async def delete_credentials(self, bot: str) -> bool:
        from controlplane.links.base import AgentError, AgentErrorCode

        raise AgentError(AgentErrorCode.INTERNAL, "Method not found!")

    async def delete_telegram_token(self) -> bool:
        return await self.delete_credentials("")


async def test_a_refused_change_stays_pending_and_does_not_end_the_session(
    cp: ControlPlane, agent: LiveAgent
) -> None:
    from controlplane.links import sync

    proxy = TcpProxy("127.0.0.1", agent.server.port)
    await proxy.start()
    try:
        t = await new_tenant(cp)
        aid = await register(cp, t, agent, endpoint=proxy.endpoint)
        bid = await bot_id(cp, aid)
        await proxy.cut()
        await wait_until(lambda: not cp.live.agents[aid].online)
        await credentials.delete_credentials(cp, t.who, bid)
        await credentials.set_telegram_token(cp, t.who, aid, TelegramTokenIn(token=TOKEN))
        old = _OldAgent()
        # the token goes through; the refused delete stays pending (no exception)
        assert await sync.push_credentials(cp, old, aid) == 1  # type: ignore[arg-type]
        assert old.set == ["telegram"]
        assert await sync.push_credentials(cp, old, aid) == 0  # type: ignore[arg-type]
        # ...and reaches an agent that has the call, when it reconnects
        agent.credentials.set("ushark-mm", VenueCredentials("k", "s"))
        await proxy.restore()
        await wait_until(lambda: not agent.credentials.has("ushark-mm"))
    finally:
        await proxy.close()
