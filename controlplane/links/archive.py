"""The archive writer: every agent event goes through here exactly once.

All links hand their event batches to one writer, which groups whatever is waiting into one
transaction: insert the events (ON CONFLICT DO NOTHING on (agent, seq), RETURNING what was
new), project orders and fills, fold daily stats, move each agent's archived seq — then,
after the commit, update the live views and publish. So a subscriber never sees an event the
archive could lose, a re-delivered event changes nothing, and under load the cost per event
falls because transactions grow instead of multiplying.

A failed transaction (database restarting, say) is retried with backoff, holding the batches
in memory; the bounded queue then pushes back on the links, whose agents keep everything in
their journals meanwhile. Nothing is acknowledged to anyone before it is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from controlplane.links import bulk
from controlplane.links.base import RemoteEvent
from controlplane.links.stats import BotClock, DayStats, fold, utc_day
from controlplane.live.pubsub import topics_for
from controlplane.live.view import LiveEvent
from controlplane.models import Bot, DailyStat, table_of

if TYPE_CHECKING:
    from controlplane.runtime import ControlPlane

BOTS = table_of(Bot)
DAILY = table_of(DailyStat)

log = logging.getLogger("mmbot.controlplane.archive")

RETRY_MAX_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class BotRef:
    bot_id: int
    tenant_id: int
    base: str
    quote: str


@dataclass(slots=True)
class _Item:
    agent_id: int
    tenant_id: int
    events: list[RemoteEvent]


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def _dec(v: Any) -> Decimal:
    try:
        d = Decimal(str(v)) if v not in (None, "") else Decimal(0)
    except (InvalidOperation, ValueError):
        return Decimal(0)
    return d if d.is_finite() else Decimal(0)


def _split_symbol(symbol: str) -> tuple[str, str]:
    base, _, quote = symbol.partition("/")
    return base, quote


class ArchiveWriter:
    def __init__(self, cp: ControlPlane) -> None:
        self.cp = cp
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(cp.settings.archive_queue_batches)
        self._task: asyncio.Task[None] | None = None
        self._bots: dict[tuple[int, str], BotRef] = {}
        self._refs: dict[int, BotRef] = {}
        self._next_trim = 0.0
        self._seen: dict[int, dt.datetime] = {}
        self._days: dict[tuple[int, dt.date], DayStats] = {}
        self._clocks: dict[int, BotClock] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self.config_listeners: list[Callable[[LiveEvent], None]] = []

    # ------------------------------------------------------------------ interface
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="archive")

    async def stop(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.drain(), 10)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def submit(self, agent_id: int, tenant_id: int, events: list[RemoteEvent]) -> None:
        """Queue a batch (waits while the queue is full: back-pressure on the link)."""
        if events:
            self._idle.clear()
            await self._queue.put(_Item(agent_id, tenant_id, events))

    async def drain(self) -> None:
        """Wait until everything submitted so far is committed and published."""
        while not (self._queue.empty() and self._idle.is_set()):
            await asyncio.sleep(0.01)

    def note_seen(self, seen: dict[int, dt.datetime]) -> None:
        """Last-seen times to record with the next transaction: the writer makes all the
        multi-row updates of agent rows, so two of them never contend for the same rows."""
        self._seen.update(seen)
        if self._queue.empty():
            self._idle.clear()
            self._queue.put_nowait(_Item(0, 0, []))  # wake the writer

    def queue_depth(self) -> int:
        return self._queue.qsize()

    def remember_bot(
        self, agent_id: int, name: str, bot_id: int, tenant_id: int, symbol: str
    ) -> None:
        base, quote = _split_symbol(symbol)
        ref = BotRef(bot_id, tenant_id, base, quote)
        self._bots[(agent_id, name)] = ref
        self._refs[bot_id] = ref

    def forget_agent(self, agent_id: int) -> None:
        for key in [k for k in self._bots if k[0] == agent_id]:
            self._refs.pop(self._bots.pop(key).bot_id, None)

    # ------------------------------------------------------------------ loop
    async def _run(self) -> None:
        max_events = self.cp.settings.archive_max_events_per_tx
        while True:
            item = await self._queue.get()
            self._idle.clear()
            items = [item]
            n = len(item.events)
            while n < max_events and not self._queue.empty():
                nxt = self._queue.get_nowait()
                items.append(nxt)
                n += len(nxt.events)
            delay = 0.1
            while True:
                try:
                    new = await self._write(items)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # The stats were folded in place: forget them, so the retry reloads the
                    # committed state instead of folding the same events twice.
                    self._days.clear()
                    self._clocks.clear()
                    self.cp.metrics.archive_errors.inc()
                    log.exception("archive transaction failed; retrying in %.1fs", delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX_SECONDS)
            self._after_commit(new)
            if self._queue.empty():
                self._idle.set()

    # ------------------------------------------------------------------ transaction
    async def _resolve_bots(self, items: list[_Item]) -> None:
        """Bot ids for every (agent, bot name) in `items`; a bot the agent grew since the
        link last listed its bots is created here (venue and symbol follow on the next sync)."""
        missing = {
            (it.agent_id, ev.bot, it.tenant_id)
            for it in items
            for ev in it.events
            if ev.bot and (it.agent_id, ev.bot) not in self._bots
        }
        if not missing:
            return
        async with self.cp.engine.begin() as conn:
            for agent_id, name, tenant_id in sorted(missing):
                ins = _insert(conn, BOTS).values(
                    tenant_id=tenant_id,
                    agent_id=agent_id,
                    name=name[:64],
                    venue="",
                    symbol="",
                    state="",
                    agent_config_version=0,
                    created_at=dt.datetime.now(dt.UTC),
                    updated_at=dt.datetime.now(dt.UTC),
                )
                await conn.execute(ins.on_conflict_do_nothing(index_elements=["agent_id", "name"]))
            rows = (
                await conn.execute(
                    sa.select(
                        BOTS.c.id, BOTS.c.agent_id, BOTS.c.name, BOTS.c.tenant_id, BOTS.c.symbol
                    ).where(BOTS.c.agent_id.in_(sorted({m[0] for m in missing})))
                )
            ).all()
        for bot_id, agent_id, name, tenant_id, symbol in rows:
            self.remember_bot(agent_id, name, bot_id, tenant_id, symbol)

    async def _load_stats(self, conn: AsyncConnection, keys: set[tuple[int, dt.date]]) -> None:
        """Fill the caches from the database for bots and days this writer has not seen yet
        (after a restart). Only recent days are read: older history cannot change a fold."""
        bots_missing = {b for b, _ in keys if b not in self._clocks}
        days_missing = {k for k in keys if k not in self._days}
        if not bots_missing and not days_missing:
            return
        t = DAILY
        since = min(d for _, d in keys) - dt.timedelta(days=2)
        lookup = bots_missing | {b for b, _ in days_missing}
        rows = (
            await conn.execute(
                sa.select(t)
                .where(t.c.bot_id.in_(sorted(lookup)), t.c.day >= since)
                .order_by(t.c.day.desc())
            )
        ).mappings()
        for r in rows:
            bot_id, day = r["bot_id"], r["day"]
            if bot_id in bots_missing and bot_id not in self._clocks:
                self._clocks[bot_id] = BotClock(r["last_at"], r["last_state"], r["pnl_close_quote"])
            if (bot_id, day) in days_missing:
                self._days[(bot_id, day)] = _day_from_row(r)
        for b in bots_missing:
            self._clocks.setdefault(b, BotClock())

    async def _write(self, items: list[_Item]) -> list[LiveEvent]:
        await self._resolve_bots(items)
        rows: list[dict[str, Any]] = []
        for it in items:
            for ev in it.events:
                ref = self._bots.get((it.agent_id, ev.bot)) if ev.bot else None
                rows.append(
                    {
                        "tenant_id": it.tenant_id,
                        "agent_id": it.agent_id,
                        "seq": ev.seq,
                        "bot_id": ref.bot_id if ref else None,
                        "bot_name": ev.bot[:64],
                        "kind": ev.kind[:16],
                        "severity": ev.severity[:16],
                        "at": ev.at,
                        "data": ev.data,
                        "data_json": ev.data_json,
                    }
                )
        async with self.cp.engine.begin() as conn:
            inserted = await bulk.insert_events(conn, rows)
            new = [
                LiveEvent(
                    r["agent_id"],
                    r["seq"],
                    r["at"],
                    r["kind"],
                    r["bot_name"],
                    r["severity"],
                    r["data"],
                    r["bot_id"],
                )
                for r in rows
                if (r["agent_id"], r["seq"]) in inserted
            ]
            dup = len(rows) - len(new)
            if dup:
                self.cp.metrics.events_duplicate.inc(dup)
            tenants = {it.agent_id: it.tenant_id for it in items}
            await self._project(conn, new, tenants)
            await self._advance_agents(conn, items)
        self.cp.metrics.archive_tx_events.observe(len(rows))
        self.cp.metrics.events_archived.inc(len(new))
        return new

    async def _project(
        self, conn: AsyncConnection, new: list[LiveEvent], tenants: dict[int, int]
    ) -> None:
        orders: dict[tuple[int, str], dict[str, Any]] = {}
        fills: dict[tuple[int, str], dict[str, Any]] = {}
        states: dict[int, str] = {}
        with_bot = [e for e in new if e.bot_id is not None]
        for e in with_bot:
            d = e.data
            bot_id = e.bot_id
            assert bot_id is not None
            if e.kind == "order" and d.get("client_order_id"):
                key = (bot_id, str(d["client_order_id"])[:64])
                prev = orders.get(key)
                orders[key] = {
                    "tenant_id": tenants[e.agent_id],
                    "agent_id": e.agent_id,
                    "bot_id": bot_id,
                    "client_order_id": key[1],
                    "venue_order_id": str(
                        d.get("venue_order_id") or (prev or {}).get("venue_order_id", "")
                    )[:128],
                    "side": str(d.get("side", ""))[:8],
                    "price": _dec(d.get("price")),
                    "amount": _dec(d.get("amount")),
                    "filled": _dec(d.get("filled")),
                    "status": str(d.get("status", ""))[:32],
                    "post_only": bool(d.get("post_only", False)),
                    "tag": str(d.get("tag", ""))[:32],
                    "created_at": prev["created_at"] if prev else e.at,
                    "updated_at": e.at,
                    "last_seq": e.seq,
                }
            elif e.kind == "fill" and d.get("trade_id"):
                key = (bot_id, str(d["trade_id"])[:128])
                fills.setdefault(
                    key,
                    {
                        "tenant_id": tenants[e.agent_id],
                        "agent_id": e.agent_id,
                        "bot_id": bot_id,
                        "trade_id": key[1],
                        "client_order_id": str(d.get("client_order_id", ""))[:64],
                        "side": str(d.get("side", ""))[:8],
                        "price": _dec(d.get("price")),
                        "amount": _dec(d.get("amount")),
                        "fee": _dec(d.get("fee")),
                        "fee_asset": str(d.get("fee_asset", ""))[:32],
                        "liquidity": str(d.get("liquidity", ""))[:16],
                        "at": e.at,
                        "seq": e.seq,
                    },
                )
            elif e.kind == "state" and d.get("to"):
                states[bot_id] = str(d["to"])[:32]
            elif e.kind == "status" and d.get("state"):
                states[bot_id] = str(d["state"])[:32]
        await bulk.upsert_orders(conn, list(orders.values()))
        await bulk.insert_fills(conn, list(fills.values()))
        await bulk.set_bot_states(conn, states, dt.datetime.now(dt.UTC))
        await self._fold_stats(conn, with_bot, tenants)

    async def _fold_stats(
        self, conn: AsyncConnection, events: list[LiveEvent], tenants: dict[int, int]
    ) -> None:
        if not events:
            return
        keys = {(e.bot_id, utc_day(e.at)) for e in events if e.bot_id is not None}
        await self._load_stats(conn, keys)
        # Folded in place (copies would cost more than everything else here); if the
        # transaction fails, _run drops these caches and they are reloaded from the database.
        days: dict[tuple[int, dt.date], DayStats] = {}
        refs = self._refs
        for e in events:
            bot_id = e.bot_id
            assert bot_id is not None
            key = (bot_id, utc_day(e.at))
            st = days.get(key)
            if st is None:
                st = self._days.get(key)
                if st is None:
                    st = self._days[key] = DayStats(bot_id, tenants[e.agent_id], key[1])
                days[key] = st
            clock = self._clocks.get(bot_id)
            if clock is None:
                clock = self._clocks[bot_id] = BotClock()
            ref = refs.get(bot_id)
            fold(st, clock, e.kind, e.at, e.data, ref.base if ref else "", ref.quote if ref else "")
        await bulk.upsert_daily(conn, [d.row() for d in days.values()])
        # Keep the cache small: only the last two days matter for folding.
        if time.monotonic() > self._next_trim:
            self._next_trim = time.monotonic() + 60
            horizon = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
            for k in [k for k in self._days if k[1] < horizon]:
                del self._days[k]

    async def _advance_agents(self, conn: AsyncConnection, items: list[_Item]) -> None:
        top: dict[int, int] = {}
        for it in items:
            if it.events:
                top[it.agent_id] = max(top.get(it.agent_id, 0), max(e.seq for e in it.events))
        seen, self._seen = self._seen, {}
        try:
            await bulk.advance_agents(conn, top, dt.datetime.now(dt.UTC), seen)
        except BaseException:
            self._seen = {**seen, **self._seen}  # keep them for the retry
            raise
        for a, s in top.items():
            live = self.cp.live.agents.get(a)
            if live is not None:
                live.archived_seq = max(live.archived_seq, s)

    # ------------------------------------------------------------------ after commit
    def _after_commit(self, new: Iterable[LiveEvent]) -> None:
        now = time.time()
        live = self.cp.live
        pubsub = self.cp.pubsub
        observe = self.cp.metrics.event_delay.observe
        for ev in new:
            view = live.bots.get(ev.bot_id) if ev.bot_id is not None else None
            if view is not None:
                view.apply(ev)
                tenant = view.tenant_id
            else:
                agent = live.agents.get(ev.agent_id)
                tenant = agent.tenant_id if agent is not None else -1
            topics = topics_for(tenant, ev.agent_id, ev.bot_id)
            if pubsub.has_subscribers(topics):
                pubsub.publish("event", ev.to_dict(), topics)
            observe(max(0.0, now - ev.at))
            if ev.kind == "config":
                for fn in self.config_listeners:
                    fn(ev)


def _day_from_row(r: Any) -> DayStats:
    return DayStats(
        bot_id=r["bot_id"],
        tenant_id=r["tenant_id"],
        day=r["day"],
        volume_quote=r["volume_quote"],
        fees_quote=r["fees_quote"],
        fills=r["fills"],
        pnl_open_quote=r["pnl_open_quote"],
        pnl_close_quote=r["pnl_close_quote"],
        running_seconds=r["running_seconds"],
        observed_seconds=r["observed_seconds"],
        last_at=r["last_at"],
        last_state=r["last_state"],
    )
