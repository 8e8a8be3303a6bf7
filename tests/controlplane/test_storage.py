"""Schema and storage: migrations match the models, outdated schemas are refused, money is
exact on both backends, archives are idempotent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel, select

import controlplane.models  # noqa: F401  (registers the tables)
from controlplane.db import schema
from controlplane.db.engine import make_sync_engine
from controlplane.models import Agent, Bot, DailyStat, EventRecord, FillRecord
from controlplane.runtime import ControlPlane
from tests.controlplane.conftest import new_tenant


def test_migrations_create_exactly_the_models(db_url: str) -> None:
    """Autogenerate finds nothing to add: the migrations and the models agree."""
    engine = make_sync_engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(ctx, SQLModel.metadata)
    finally:
        engine.dispose()
    assert diffs == []


def test_status_reports_current(db_url: str) -> None:
    st = schema.status(db_url)
    assert st.up_to_date and st.current == schema.head_revision()


def test_empty_database_is_refused_with_the_command_to_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    with pytest.raises(schema.SchemaOutdated, match="mmbot controlplane migrate"):
        schema.require_current(url)
    schema.upgrade(url)
    assert schema.require_current(url).up_to_date


def test_older_schema_is_refused_and_migrate_brings_it_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    schema.upgrade(url)
    engine = make_sync_engine(url)
    with engine.begin() as conn:  # pretend a newer release wrote an unknown revision
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ffff'"))
    engine.dispose()
    with pytest.raises(schema.SchemaOutdated, match="does not know"):
        schema.require_current(url)


async def test_control_plane_refuses_to_start_on_an_empty_schema(
    tmp_path: Path, secret_key: str
) -> None:
    from tests.controlplane.conftest import make_settings

    url = f"sqlite+aiosqlite:///{tmp_path / 'none.sqlite'}"
    plane = ControlPlane(make_settings(url, tmp_path, secret_key))
    with pytest.raises(schema.SchemaOutdated):
        await plane.start()
    await plane.engine.dispose()


async def _bot(cp: ControlPlane) -> tuple[int, int, int]:
    t = await new_tenant(cp)
    async with cp.session() as s:
        agent = Agent(tenant_id=t.id, name="a1", endpoint="127.0.0.1:1", token_enc="x")
        s.add(agent)
        await s.flush()
        assert agent.id is not None
        bot = Bot(tenant_id=t.id, agent_id=agent.id, name="b1", venue="sim", symbol="X/USDT")
        s.add(bot)
        await s.commit()
        assert bot.id is not None
        return t.id, agent.id, bot.id


@pytest.mark.parametrize(
    "value", ["0.1", "0.000000000000000001", "123456789012345678901234.5", "1E+3", "-0.30"]
)
async def test_money_round_trips_exactly(cp: ControlPlane, value: str) -> None:
    tenant_id, agent_id, bot_id = await _bot(cp)
    price = Decimal(value)
    async with cp.session() as s:
        s.add(
            FillRecord(
                tenant_id=tenant_id,
                agent_id=agent_id,
                bot_id=bot_id,
                trade_id="t1",
                client_order_id="c1",
                side="buy",
                price=price,
                amount=Decimal("3"),
                fee=Decimal("0"),
                fee_asset="USDT",
                liquidity="maker",
                at=1.0,
                seq=1,
            )
        )
        await s.commit()
    async with cp.session() as s:
        got = (await s.exec(select(FillRecord).where(FillRecord.bot_id == bot_id))).one()
    assert isinstance(got.price, Decimal)
    assert got.price == price
    assert got.price * got.amount == price * 3


async def test_floats_are_refused_for_money(cp: ControlPlane) -> None:
    tenant_id, _, bot_id = await _bot(cp)
    async with cp.session() as s:
        s.add(
            DailyStat(
                tenant_id=tenant_id,
                bot_id=bot_id,
                day=dt.date(2026, 1, 1),
                volume_quote=0.1,  # type: ignore[arg-type]
            )
        )
        with pytest.raises(sa.exc.StatementError, match="never float"):
            await s.commit()


async def test_event_archive_is_unique_on_agent_and_seq(cp: ControlPlane) -> None:
    tenant_id, agent_id, bot_id = await _bot(cp)
    row = {
        "tenant_id": tenant_id,
        "agent_id": agent_id,
        "seq": 7,
        "bot_id": bot_id,
        "bot_name": "b1",
        "kind": "state",
        "severity": "info",
        "at": 1.5,
        "data": {"to": "RUNNING"},
    }
    async with cp.session() as s:
        s.add(EventRecord(**row))
        await s.commit()
    async with cp.session() as s:
        s.add(EventRecord(**row))
        with pytest.raises(sa.exc.IntegrityError):
            await s.commit()
