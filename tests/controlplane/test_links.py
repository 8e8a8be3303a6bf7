"""Agent links: nothing lost or duplicated across a cut network, a control-plane restart and
re-delivery; offline agents show their last-seen time; mTLS."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from agent.certs import init_certs, issue, make_ca
from agent.service.server import SecurityPlan
from controlplane.models import EventRecord, FillRecord
from controlplane.runtime import ControlPlane
from controlplane.schemas import TlsIn
from controlplane.services import agents as agent_service
from controlplane.services import commands
from controlplane.services.errors import Unavailable
from tests.controlplane.agents import bot_id, register
from tests.controlplane.conftest import make_settings, new_tenant, wait_until
from tests.controlplane.proxy import TcpProxy
from tests.test_grpc_helpers import LiveAgent, emit_fill, live_agent


async def _archive(
    cp: ControlPlane, agent_id: int, upto: int
) -> dict[int, tuple[str, str, dict[str, Any]]]:
    """Archived events up to `upto` (the bot keeps trading while the test compares)."""
    async with cp.session() as s:
        rows = (
            await s.exec(
                select(EventRecord)
                .where(EventRecord.agent_id == agent_id, EventRecord.seq <= upto)
                .order_by(col(EventRecord.seq))
            )
        ).all()
    return {r.seq: (r.kind, r.bot_name, r.data) for r in rows}


def _journal(agent: LiveAgent, upto: int) -> dict[int, tuple[str, str, dict[str, Any]]]:
    return {
        e.seq: (e.kind.value, e.bot, e.data)
        for e in agent.host.journal.events(0, 1_000_000)
        if e.seq <= upto
    }


async def _caught_up(cp: ControlPlane, agent_id: int, agent: LiveAgent) -> int:
    target = agent.host.bus.last_seq
    await wait_until(lambda: cp.live.agents[agent_id].archived_seq >= target, timeout=15)
    await cp.archive.drain()
    return target


async def test_no_event_lost_or_duplicated_across_cuts_and_restarts(
    db_url: str, tmp_path: Path, secret_key: str
) -> None:
    settings = make_settings(db_url, tmp_path / "cp", secret_key)
    cp = ControlPlane(settings)
    await cp.start()
    async with live_agent(tmp_path / "agent") as agent:
        proxy = TcpProxy("127.0.0.1", agent.server.port)
        await proxy.start()
        try:
            t = await new_tenant(cp)
            aid = await register(cp, t, agent, endpoint=proxy.endpoint)
            bid = await bot_id(cp, aid)
            sub = cp.pubsub.subscribe(f"bot:{bid}", maxsize=100_000)
            await _caught_up(cp, aid, agent)

            # 1. cut the network; the agent keeps trading meanwhile
            await proxy.cut()
            await wait_until(lambda: not cp.live.agents[aid].online)
            assert cp.live.agents[aid].last_seen is not None
            listed = await agent_service.get_agent(cp, t.who, aid)
            assert listed.online is False and listed.last_seen_at is not None and listed.error
            with pytest.raises(Unavailable, match="offline"):
                await commands.run_command(cp, t.who, bid, "pause")
            for n in range(20):
                emit_fill(agent.host, n)
            await asyncio.sleep(0.3)
            await proxy.restore()
            upto = await _caught_up(cp, aid, agent)
            assert cp.links.links[aid].sessions >= 2

            # 2. restart the control plane; the agent trades while it is down
            await cp.stop()
            for n in range(20, 40):
                emit_fill(agent.host, n)
            cp = ControlPlane(settings)
            await cp.start()
            await wait_until(lambda: aid in cp.live.agents and cp.live.agents[aid].online)
            upto = await _caught_up(cp, aid, agent)

            # 3. the archive is the journal: same seqs, same contents, nothing twice
            archive = await _archive(cp, aid, upto)
            assert archive == _journal(agent, upto)
            assert sorted(archive) == list(range(1, upto + 1))
            async with cp.session() as s:
                fills = (await s.exec(select(FillRecord).where(FillRecord.bot_id == bid))).all()
            journal_fills = {f["trade_id"]: f for f in agent.host.journal.fills("ushark-mm")}
            assert {f.trade_id for f in fills} == set(journal_fills)
            for f in fills:
                assert f.price == Decimal(journal_fills[f.trade_id]["price"])
                assert f.amount == Decimal(journal_fills[f.trade_id]["amount"])

            # 4. re-delivering everything changes nothing
            link = cp.links.links[aid]
            events = [link_event async for link_event in _replay(cp, aid, agent)]
            await cp.archive.submit(aid, t.id, events)
            await cp.archive.drain()
            assert await _archive(cp, aid, upto) == archive
            async with cp.session() as s:
                n_fills = (
                    await s.exec(
                        select(sa.func.count())
                        .select_from(FillRecord)
                        .where(FillRecord.bot_id == bid)
                    )
                ).one()
            assert n_fills == len(fills)
            assert link.cursor is not None and link.cursor >= upto

            # 5. subscribers saw each emitted fill exactly once (first control plane)
            seen: list[str] = []
            while (m := sub.get_nowait()) is not None:
                if m.kind == "event" and m.data["kind"] == "fill":
                    seen.append(m.data["data"]["trade_id"])
            assert sorted(seen) == sorted(f"t-{n}" for n in range(20))
            # ... and the fills archived while the control plane was down reach the live view
            recent = {f["trade_id"] for f in cp.live.bots[bid].recent_fills}
            assert {f"t-{n}" for n in range(20, 40)} <= recent
        finally:
            await proxy.close()
            await cp.stop()


async def _replay(cp: ControlPlane, aid: int, agent: LiveAgent) -> Any:
    from controlplane.links.base import RemoteEvent

    for e in agent.host.journal.events(0, 1_000_000):
        yield RemoteEvent(e.seq, e.at, e.kind.value, e.bot, e.severity.value, e.data)


async def test_mutual_tls_link(cp: ControlPlane, tmp_path: Path) -> None:
    files = init_certs(tmp_path / "tls")
    plan = SecurityPlan(
        cert_chain=files.server_cert.read_bytes(),
        private_key=files.server_key.read_bytes(),
        client_ca=files.ca_cert.read_bytes(),
    )
    t = await new_tenant(cp)
    async with live_agent(tmp_path / "agent", security=plan) as agent:
        good = TlsIn(
            ca_cert=files.ca_cert.read_text(),
            client_cert=files.client_cert.read_text(),
            client_key=files.client_key.read_text(),
        )
        aid = await register(cp, t, agent, tls=good)
        assert (await agent_service.get_agent(cp, t.who, aid)).tls_info is not None
        # a client certificate from another CA is refused by the agent: offline, with a reason
        from agent.certs import cert_pem, key_pem

        other_key, other_ca = make_ca("someone else")
        k, c = issue(other_key, other_ca, "intruder", server=False)
        bad = TlsIn(
            ca_cert=files.ca_cert.read_text(),
            client_cert=cert_pem(c).decode(),
            client_key=key_pem(k).decode(),
        )
        bad_id = await register(cp, t, agent, name="vps-bad", tls=bad, wait_online=False)
        await wait_until(lambda: bool(cp.live.agents[bad_id].error))
        assert not cp.live.agents[bad_id].online
        assert cp.live.agents[aid].online


async def test_registration_rules(cp: ControlPlane) -> None:
    from pydantic import ValidationError

    from controlplane.schemas import AgentCreate
    from controlplane.services.errors import Conflict, Invalid

    t = await new_tenant(cp)
    with pytest.raises(Invalid, match="off loopback"):
        await agent_service.register_agent(
            cp, t.who, AgentCreate(name="far", endpoint="10.1.2.3:50051", token="t" * 20)
        )
    with pytest.raises(ValidationError):
        AgentCreate(name="x", endpoint="no-port", token="t" * 20)
    with pytest.raises(Invalid) as exc:
        await agent_service.register_agent(
            cp,
            t.who,
            AgentCreate(
                name="far",
                endpoint="10.1.2.3:50051",
                token="t" * 20,
                tls=TlsIn(ca_cert="junk", client_cert="junk", client_key="junk"),
            ),
        )
    assert {e.loc[-1] for e in exc.value.errors} == {"ca_cert", "client_cert", "client_key"}
    await register(cp, t, None, name="dup", wait_online=False)
    with pytest.raises(Conflict):
        await register(cp, t, None, name="dup", wait_online=False)
