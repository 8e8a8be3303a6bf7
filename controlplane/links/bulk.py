"""Bulk statements for the archive writer, one function per table, per backend.

PostgreSQL gets one statement per table and transaction however many rows there are:
`INSERT ... SELECT FROM unnest(<one array per column>)`, sent with binary parameters on the
transaction's own psycopg connection. The statement text never changes, so it is parsed and
planned once, and binary arrays need no text escaping; SQLAlchemy's multi-row VALUES would
render a new, huge statement for every batch size and spend most of the writer's time parsing
it. SQLite (embedded, one user) takes the portable multi-row insert.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from controlplane.models import (
    Agent,
    Bot,
    DailyStat,
    EventRecord,
    FillRecord,
    OrderRecord,
    table_of,
)

EVENTS = table_of(EventRecord)
ORDERS = table_of(OrderRecord)
FILLS = table_of(FillRecord)
DAILY = table_of(DailyStat)
AGENTS = table_of(Agent)
BOTS = table_of(Bot)

SQLITE_CHUNK = 500

_PG_EVENTS = """
    INSERT INTO event_archive
        (tenant_id, agent_id, seq, bot_id, bot_name, kind, severity, at, data)
    SELECT t, a, s, b, bn, k, sv, at, d::jsonb
    FROM unnest(%(t)b::int[], %(a)b::int[], %(s)b::bigint[], %(b)b::int[],
                %(bn)b::text[], %(k)b::text[], %(sv)b::text[],
                %(at)b::float8[], %(d)b::text[])
        AS u(t, a, s, b, bn, k, sv, at, d)
    ON CONFLICT (agent_id, seq) DO NOTHING
    RETURNING agent_id, seq
    """

_PG_ORDERS = """
    INSERT INTO order_archive
        (tenant_id, agent_id, bot_id, client_order_id, venue_order_id, side, price, amount,
         filled, status, post_only, tag, created_at, updated_at, last_seq)
    SELECT * FROM unnest(%(t)b::int[], %(a)b::int[], %(b)b::int[],
                         %(coid)b::text[], %(voi)b::text[], %(side)b::text[],
                         %(price)b::numeric[], %(amount)b::numeric[],
                         %(filled)b::numeric[], %(status)b::text[],
                         %(po)b::boolean[], %(tag)b::text[],
                         %(ca)b::float8[], %(ua)b::float8[], %(ls)b::bigint[])
    ON CONFLICT (bot_id, client_order_id) DO UPDATE SET
        venue_order_id = CASE WHEN excluded.venue_order_id <> ''
                         THEN excluded.venue_order_id ELSE order_archive.venue_order_id END,
        side = excluded.side, price = excluded.price, amount = excluded.amount,
        filled = excluded.filled, status = excluded.status, post_only = excluded.post_only,
        tag = excluded.tag, updated_at = excluded.updated_at, last_seq = excluded.last_seq
    WHERE order_archive.last_seq < excluded.last_seq
    """

_PG_FILLS = """
    INSERT INTO fill_archive
        (tenant_id, agent_id, bot_id, trade_id, client_order_id, side, price, amount, fee,
         fee_asset, liquidity, at, seq)
    SELECT * FROM unnest(%(t)b::int[], %(a)b::int[], %(b)b::int[],
                         %(tid)b::text[], %(coid)b::text[], %(side)b::text[],
                         %(price)b::numeric[], %(amount)b::numeric[],
                         %(fee)b::numeric[], %(fa)b::text[], %(liq)b::text[],
                         %(at)b::float8[], %(seq)b::bigint[])
    ON CONFLICT (bot_id, trade_id) DO NOTHING
    """

_DAILY_KEYS = (
    "bot_id",
    "tenant_id",
    "day",
    "volume_quote",
    "fees_quote",
    "fills",
    "pnl_open_quote",
    "pnl_close_quote",
    "running_seconds",
    "observed_seconds",
    "last_at",
    "last_state",
)
_DAILY_NAMES = ("b", "t", "day", "vol", "fees", "n", "po", "pc", "run", "obs", "la", "ls")
_PG_DAILY = """
    INSERT INTO daily_stat
        (bot_id, tenant_id, day, volume_quote, fees_quote, fills, pnl_open_quote,
         pnl_close_quote, running_seconds, observed_seconds, last_at, last_state)
    SELECT * FROM unnest(%(b)b::int[], %(t)b::int[], %(day)b::date[], %(vol)b::numeric[],
                         %(fees)b::numeric[], %(n)b::int[], %(po)b::numeric[],
                         %(pc)b::numeric[], %(run)b::float8[], %(obs)b::float8[],
                         %(la)b::float8[], %(ls)b::text[])
    ON CONFLICT (bot_id, day) DO UPDATE SET
        volume_quote = excluded.volume_quote, fees_quote = excluded.fees_quote,
        fills = excluded.fills, pnl_open_quote = excluded.pnl_open_quote,
        pnl_close_quote = excluded.pnl_close_quote, running_seconds = excluded.running_seconds,
        observed_seconds = excluded.observed_seconds, last_at = excluded.last_at,
        last_state = excluded.last_state
    """


async def _pg(
    conn: AsyncConnection, sql: str, params: dict[str, Any], *, fetch: bool = False
) -> list[tuple[Any, ...]]:
    """Run on the driver connection of `conn` (same transaction). The statements use `%(x)b`
    placeholders: binary parameters, so arrays of text need no escaping."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    async with driver.cursor(binary=True) as cur:
        await cur.execute(sql, params)
        return list(await cur.fetchall()) if fetch else []


def _cols(rows: Sequence[dict[str, Any]], *keys: str) -> list[list[Any]]:
    return [[r[k] for r in rows] for k in keys]


def _sqlite(table: sa.Table) -> Any:
    return sqlite_insert(table)


def _chunks(rows: Sequence[dict[str, Any]], size: int) -> Iterable[Sequence[dict[str, Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


async def insert_events(
    conn: AsyncConnection, rows: Sequence[dict[str, Any]]
) -> set[tuple[int, int]]:
    """Insert what is new; returns the (agent_id, seq) of the rows actually inserted."""
    if not rows:
        return set()
    if conn.dialect.name == "postgresql":
        t, a, s, b, bn, k, sv, at, d = _cols(
            rows,
            "tenant_id",
            "agent_id",
            "seq",
            "bot_id",
            "bot_name",
            "kind",
            "severity",
            "at",
            "data",
        )
        d = [
            r["data_json"] if r.get("data_json") else json.dumps(x, separators=(",", ":"))
            for r, x in zip(rows, d, strict=True)
        ]
        params = {"t": t, "a": a, "s": s, "b": b, "bn": bn, "k": k, "sv": sv, "at": at, "d": d}
        return {(int(x), int(y)) for x, y in await _pg(conn, _PG_EVENTS, params, fetch=True)}
    ins = _sqlite(EVENTS)
    stmt = ins.on_conflict_do_nothing(index_elements=["agent_id", "seq"]).returning(
        EVENTS.c.agent_id, EVENTS.c.seq
    )
    out: set[tuple[int, int]] = set()
    cols = [c.name for c in EVENTS.columns if c.name != "id"]
    for chunk in _chunks(rows, SQLITE_CHUNK):
        res = await conn.execute(stmt, [{k: r[k] for k in cols} for r in chunk])
        out.update((int(x), int(y)) for x, y in res.all())
    return out


async def upsert_orders(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """At most one row per (bot, client order id) in `rows`; newer seqs win."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        keys = (
            "tenant_id",
            "agent_id",
            "bot_id",
            "client_order_id",
            "venue_order_id",
            "side",
            "price",
            "amount",
            "filled",
            "status",
            "post_only",
            "tag",
            "created_at",
            "updated_at",
            "last_seq",
        )
        names = (
            "t",
            "a",
            "b",
            "coid",
            "voi",
            "side",
            "price",
            "amount",
            "filled",
            "status",
            "po",
            "tag",
            "ca",
            "ua",
            "ls",
        )
        await _pg(conn, _PG_ORDERS, dict(zip(names, _cols(rows, *keys), strict=True)))
        return
    ins = _sqlite(ORDERS)
    stmt = ins.on_conflict_do_update(
        index_elements=["bot_id", "client_order_id"],
        set_={
            c: ins.excluded[c]
            for c in (
                "side",
                "price",
                "amount",
                "filled",
                "status",
                "post_only",
                "tag",
                "updated_at",
                "last_seq",
            )
        }
        | {
            "venue_order_id": sa.case(
                (ins.excluded.venue_order_id != "", ins.excluded.venue_order_id),
                else_=ORDERS.c.venue_order_id,
            )
        },
        where=ORDERS.c.last_seq < ins.excluded.last_seq,
    )
    for chunk in _chunks(rows, SQLITE_CHUNK):
        await conn.execute(stmt, list(chunk))


async def insert_fills(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        keys = (
            "tenant_id",
            "agent_id",
            "bot_id",
            "trade_id",
            "client_order_id",
            "side",
            "price",
            "amount",
            "fee",
            "fee_asset",
            "liquidity",
            "at",
            "seq",
        )
        names = (
            "t",
            "a",
            "b",
            "tid",
            "coid",
            "side",
            "price",
            "amount",
            "fee",
            "fa",
            "liq",
            "at",
            "seq",
        )
        await _pg(conn, _PG_FILLS, dict(zip(names, _cols(rows, *keys), strict=True)))
        return
    stmt = _sqlite(FILLS).on_conflict_do_nothing(index_elements=["bot_id", "trade_id"])
    for chunk in _chunks(rows, SQLITE_CHUNK):
        await conn.execute(stmt, list(chunk))


async def upsert_daily(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """One row per (bot, day), written whole (the writer holds the folded state)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        await _pg(conn, _PG_DAILY, dict(zip(_DAILY_NAMES, _cols(rows, *_DAILY_KEYS), strict=True)))
        return
    ins = _sqlite(DAILY)
    cols = [c for c in rows[0] if c not in ("bot_id", "tenant_id", "day")]
    stmt = ins.on_conflict_do_update(
        index_elements=["bot_id", "day"], set_={c: ins.excluded[c] for c in cols}
    )
    await conn.execute(stmt, list(rows))


_PG_ADVANCE = """
    UPDATE agent SET archived_seq = u.seq, last_seen_at = %(now)b
    FROM unnest(%(id)b::int[], %(seq)b::bigint[]) AS u(id, seq)
    WHERE agent.id = u.id AND agent.archived_seq < u.seq
    """

_PG_SEEN = """
    UPDATE agent SET last_seen_at = u.seen
    FROM unnest(%(id)b::int[], %(seen)b::timestamptz[]) AS u(id, seen)
    WHERE agent.id = u.id AND (agent.last_seen_at IS NULL OR agent.last_seen_at < u.seen)
    """

_PG_STATES = """
    UPDATE bot SET state = u.state, updated_at = %(now)b
    FROM unnest(%(id)b::int[], %(state)b::text[]) AS u(id, state)
    WHERE bot.id = u.id AND bot.state <> u.state
    """


_PG_LOCK = {
    "agent": "SELECT id FROM agent WHERE id = ANY(%(id)b::int[]) ORDER BY id FOR NO KEY UPDATE",
    "bot": "SELECT id FROM bot WHERE id = ANY(%(id)b::int[]) ORDER BY id FOR NO KEY UPDATE",
}


async def _lock_in_order(conn: AsyncConnection, table: str, ids: list[int]) -> None:
    """Row locks in id order: two transactions updating overlapping sets of agents (or bots)
    then wait for each other instead of deadlocking."""
    await _pg(conn, _PG_LOCK[table], {"id": sorted(ids)})


async def advance_agents(
    conn: AsyncConnection,
    top: dict[int, int],
    now: dt.datetime,
    seen: dict[int, dt.datetime] | None = None,
) -> None:
    """Each agent's archived seq moves forward (never back) to `top[agent]`; `seen` records
    when agents without new events were last heard from."""
    if not top and not seen:
        return
    if conn.dialect.name == "postgresql":
        await _lock_in_order(conn, "agent", [*top, *(seen or {})])
        if top:
            await _pg(conn, _PG_ADVANCE, {"now": now, "id": list(top), "seq": list(top.values())})
        if seen:
            await _pg(conn, _PG_SEEN, {"id": list(seen), "seen": list(seen.values())})
        return
    if seen:
        await conn.execute(
            AGENTS.update()
            .where(AGENTS.c.id == sa.bindparam("a_id"))
            .values(last_seen_at=sa.bindparam("a_seen")),
            [{"a_id": a, "a_seen": t} for a, t in seen.items()],
        )
    if not top:
        return
    await conn.execute(
        AGENTS.update()
        .where(AGENTS.c.id == sa.bindparam("a_id"), AGENTS.c.archived_seq < sa.bindparam("a_seq"))
        .values(archived_seq=sa.bindparam("a_seq"), last_seen_at=now),
        [{"a_id": a, "a_seq": s} for a, s in top.items()],
    )


async def set_bot_states(conn: AsyncConnection, states: dict[int, str], now: dt.datetime) -> None:
    """The last lifecycle state seen for each bot (what listings show while offline)."""
    if not states:
        return
    if conn.dialect.name == "postgresql":
        await _lock_in_order(conn, "bot", list(states))
        await _pg(
            conn, _PG_STATES, {"now": now, "id": list(states), "state": list(states.values())}
        )
        return
    await conn.execute(
        BOTS.update()
        .where(BOTS.c.id == sa.bindparam("b_id"), BOTS.c.state != sa.bindparam("b_state"))
        .values(state=sa.bindparam("b_state"), updated_at=now),
        [{"b_id": b, "b_state": v} for b, v in states.items()],
    )
