"""Rolling 24 h volume per bot from the fill archive, on PostgreSQL and SQLite: fills inside
and outside the window, another tenant's fills never counted, exact Decimal sums, strings in
JSON, and the (tenant_id, at) index behind the query."""

from __future__ import annotations

import itertools
import time
from decimal import Decimal
from pathlib import Path

import httpx
import sqlalchemy as sa

from controlplane.db import schema
from controlplane.db.engine import make_sync_engine
from controlplane.models import Agent, Bot, FillRecord
from controlplane.runtime import ControlPlane
from controlplane.services import bots
from controlplane.services.volume import volume_24h
from tests.controlplane.conftest import Tenant, new_tenant

DAY = 24 * 3600
_seq = itertools.count(1)


async def _agent_with_bots(cp: ControlPlane, t: Tenant, *names: str) -> tuple[int, list[int]]:
    async with cp.session() as s:
        agent = Agent(tenant_id=t.id, name="vps", endpoint="127.0.0.1:1", token_enc="x")
        s.add(agent)
        await s.flush()
        assert agent.id is not None
        rows = [
            Bot(tenant_id=t.id, agent_id=agent.id, name=n, venue="sim", symbol="X/USDT")
            for n in names
        ]
        s.add_all(rows)
        await s.commit()
        ids = [b.id for b in rows]
    assert agent.id is not None and all(i is not None for i in ids)
    return agent.id, [i for i in ids if i is not None]


async def _fills(
    cp: ControlPlane, tenant_id: int, agent_id: int, bot_id: int, *fills: tuple[str, str, float]
) -> None:
    """(price, amount, at) each."""
    async with cp.session() as s:
        for price, amount, at in fills:
            n = next(_seq)
            s.add(
                FillRecord(
                    tenant_id=tenant_id,
                    agent_id=agent_id,
                    bot_id=bot_id,
                    trade_id=f"t{n}",
                    client_order_id=f"c{n}",
                    side="buy",
                    price=Decimal(price),
                    amount=Decimal(amount),
                    fee=Decimal("0"),
                    fee_asset="USDT",
                    liquidity="maker",
                    at=at,
                    seq=n,
                )
            )
        await s.commit()


async def test_rolling_volume_counts_the_window_and_the_tenant_only(
    cp: ControlPlane, api: httpx.AsyncClient
) -> None:
    a, b = await new_tenant(cp), await new_tenant(cp)
    agent_a, (busy, idle, quiet) = await _agent_with_bots(cp, a, "busy", "idle", "quiet")
    agent_b, (other,) = await _agent_with_bots(cp, b, "other")
    now = time.time()
    await _fills(
        cp,
        a.id,
        agent_a,
        busy,
        ("1.5", "2", now - 3600),  # 3.0
        ("0.1", "3", now - DAY + 600),  # 0.3: exact, not 0.30000000000000004
        ("100", "1", now - DAY - 3600),  # a day and an hour ago: outside
    )
    await _fills(cp, a.id, agent_a, idle, ("5", "5", now - 2 * DAY))  # only old fills
    await _fills(cp, b.id, agent_b, other, ("7", "7", now - 60))  # another tenant's

    listed = {x.name: x.volume_24h_quote for x in await bots.list_bots(cp, a.who)}
    assert listed == {"busy": Decimal("3.3"), "idle": Decimal(0), "quiet": Decimal(0)}
    assert (await bots.get_bot(cp, a.who, busy)).volume_24h_quote == Decimal("3.3")
    assert (await bots.get_bot(cp, a.who, quiet)).volume_24h_quote == Decimal(0)
    assert [x.volume_24h_quote for x in await bots.list_bots(cp, b.who)] == [Decimal(49)]

    # Money leaves as a string, like every other amount.
    resp = await api.get("/api/v1/bots", headers=a.headers)
    assert resp.status_code == 200
    by_name = {x["name"]: x["volume_24h_quote"] for x in resp.json()}
    assert all(isinstance(v, str) for v in by_name.values())
    assert Decimal(by_name["busy"]) == Decimal("3.3") and Decimal(by_name["idle"]) == 0
    one = (await api.get(f"/api/v1/bots/{busy}", headers=a.headers)).json()
    assert Decimal(one["volume_24h_quote"]) == Decimal("3.3")


async def test_window_edges(cp: ControlPlane) -> None:
    """A fill exactly 24 h old still counts; a millisecond older does not."""
    t = await new_tenant(cp)
    agent, (bot,) = await _agent_with_bots(cp, t, "edge")
    now = 1_800_000_000.0
    await _fills(
        cp,
        t.id,
        agent,
        bot,
        ("2", "0.5", now - DAY),
        ("1000", "1", now - DAY - 0.001),
        ("0.000000000000000001", "1", now),
    )
    async with cp.session() as s:
        got = await volume_24h(s, t.id, now=now)
        assert got == {bot: Decimal("1.000000000000000001")}
        assert await volume_24h(s, t.id, bot, now=now + DAY + 1) == {}


async def test_the_query_uses_the_tenant_time_index(cp: ControlPlane) -> None:
    async with cp.session() as s:
        conn = await s.connection()
        if conn.dialect.name == "postgresql":
            # A handful of test rows make a sequential scan cheaper; ask whether the index
            # can serve the query at all.
            await conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
            plan = await conn.execute(
                sa.text(
                    "EXPLAIN SELECT bot_id, sum(price * amount) FROM fill_archive "
                    "WHERE tenant_id = 1 AND at >= 0 GROUP BY bot_id"
                )
            )
        else:
            plan = await conn.execute(
                sa.text(
                    "EXPLAIN QUERY PLAN SELECT bot_id, price, amount FROM fill_archive "
                    "WHERE tenant_id = 1 AND at >= 0"
                )
            )
        text = " ".join(str(r) for r in plan.all())
    assert "ix_fill_tenant_at" in text, text


def test_index_migration_goes_down_and_up(tmp_path: Path) -> None:
    from alembic import command

    url = f"sqlite:///{tmp_path / 'cp.sqlite'}"
    schema.upgrade(url)
    engine = make_sync_engine(url)

    def indexes() -> set[str]:
        return {i["name"] for i in sa.inspect(engine).get_indexes("fill_archive")}

    def migrate(direction: str, revision: str) -> None:
        with engine.begin() as conn:
            cfg = schema.alembic_config()
            cfg.attributes["connection"] = conn
            getattr(command, direction)(cfg, revision)

    try:
        assert "ix_fill_tenant_at" in indexes() and "ix_fill_archive_tenant_id" not in indexes()
        migrate("downgrade", "0002")
        assert "ix_fill_archive_tenant_id" in indexes() and "ix_fill_tenant_at" not in indexes()
        migrate("upgrade", "head")
        assert "ix_fill_tenant_at" in indexes() and "ix_fill_archive_tenant_id" not in indexes()
    finally:
        engine.dispose()
