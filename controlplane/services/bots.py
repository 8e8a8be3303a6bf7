"""Bots: listing, live status, and the archived orders, fills, events and daily stats.

Archive listings page newest first by sequence number (a keyset: `cursor` is the last seq of
the previous page), so pages stay correct while new events keep arriving.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, get_args

from sqlmodel import col, select

from controlplane.links.stats import DayStats
from controlplane.live.pubsub import Subscription
from controlplane.models import (
    Agent,
    Bot,
    DailyStat,
    EventRecord,
    FillRecord,
    OrderRecord,
    VenueCredential,
)
from controlplane.schemas import (
    BotDetail,
    BotOut,
    DailyStatOut,
    EventOut,
    FillOut,
    OrderOut,
    Page,
)
from controlplane.services import credentials
from controlplane.services.agents import bot_out
from controlplane.services.common import agent_for, bot_for
from controlplane.services.errors import Invalid
from controlplane.services.principal import Principal
from controlplane.services.volume import volume_24h

if TYPE_CHECKING:
    from controlplane.runtime import ControlPlane

TERMINAL = ("FILLED", "CANCELED", "REJECTED")
Kind = Literal["state", "order", "fill", "risk", "volume", "error", "status", "config", "warning"]
SeverityName = Literal["debug", "info", "warning", "error", "critical"]
KINDS: tuple[str, ...] = get_args(Kind)
SEVERITIES: tuple[str, ...] = get_args(SeverityName)


async def list_bots(cp: ControlPlane, who: Principal) -> list[BotOut]:
    async with cp.session() as s:
        rows = (
            await s.exec(
                select(Bot, Agent.name)
                .join(Agent, col(Agent.id) == Bot.agent_id)
                .where(Bot.tenant_id == who.tenant_id)
                .order_by(col(Bot.id))
            )
        ).all()
        creds = await credentials.venue_set_at(s, VenueCredential.tenant_id == who.tenant_id)
        volume = await volume_24h(s, who.tenant_id)
    return [
        bot_out(cp, b, agent_name, creds.get(b.id or 0), volume.get(b.id or 0, Decimal(0)))
        for b, agent_name in rows
    ]


async def list_bots_live(
    cp: ControlPlane, who: Principal
) -> list[tuple[BotOut, dict[str, Any] | None]]:
    """The caller's bots, each with its live snapshot (None until its agent was reached): the
    fleet overview in one query instead of one `get_bot` per bot."""
    return [(b, _live(cp, b.id)) for b in await list_bots(cp, who)]


def _live(cp: ControlPlane, bot_id: int) -> dict[str, Any] | None:
    view = cp.live.bots.get(bot_id)
    return view.snapshot() if view is not None and view.updated_at is not None else None


async def get_bot(cp: ControlPlane, who: Principal, bot_id: int) -> BotDetail:
    async with cp.session() as s:
        bot = await bot_for(s, who, bot_id)
        agent = await s.get(Agent, bot.agent_id)
        creds = await credentials.venue_set_at(s, VenueCredential.bot_id == bot_id)
        volume = await volume_24h(s, who.tenant_id, bot_id)
    assert agent is not None
    base = bot_out(cp, bot, agent.name, creds.get(bot_id), volume.get(bot_id, Decimal(0)))
    live_agent = cp.live.agents.get(bot.agent_id)
    last_seen = agent.last_seen_at
    if live_agent is not None and live_agent.last_seen is not None:
        last_seen = dt.datetime.fromtimestamp(live_agent.last_seen, dt.UTC)
    return BotDetail(
        **base.model_dump(),
        last_seen_at=last_seen,
        live=_live(cp, bot_id),
    )


async def list_orders(
    cp: ControlPlane,
    who: Principal,
    bot_id: int,
    *,
    status: Literal["open", "all"] = "all",
    cursor: int | None = None,
    limit: int = 100,
) -> Page[OrderOut]:
    async with cp.session() as s:
        await bot_for(s, who, bot_id)
        q = select(OrderRecord).where(OrderRecord.bot_id == bot_id)
        if status == "open":
            q = q.where(col(OrderRecord.status).not_in(TERMINAL))
        if cursor is not None:
            q = q.where(OrderRecord.last_seq < cursor)
        rows = (await s.exec(q.order_by(col(OrderRecord.last_seq).desc()).limit(limit + 1))).all()
    page, more = rows[:limit], len(rows) > limit
    return Page[OrderOut](
        items=[OrderOut.model_validate(r, from_attributes=True) for r in page],
        next_cursor=page[-1].last_seq if more else None,
    )


async def list_fills(
    cp: ControlPlane, who: Principal, bot_id: int, *, cursor: int | None = None, limit: int = 100
) -> Page[FillOut]:
    async with cp.session() as s:
        await bot_for(s, who, bot_id)
        q = select(FillRecord).where(FillRecord.bot_id == bot_id)
        if cursor is not None:
            q = q.where(FillRecord.seq < cursor)
        rows = (await s.exec(q.order_by(col(FillRecord.seq).desc()).limit(limit + 1))).all()
    page, more = rows[:limit], len(rows) > limit
    return Page[FillOut](
        items=[FillOut.model_validate(r, from_attributes=True) for r in page],
        next_cursor=page[-1].seq if more else None,
    )


async def list_events(
    cp: ControlPlane,
    who: Principal,
    bot_id: int,
    *,
    kinds: Sequence[str] | None = None,
    min_severity: str | None = None,
    cursor: int | None = None,
    limit: int = 100,
) -> Page[EventOut]:
    bad = [k for k in kinds or [] if k not in KINDS]
    if bad:
        raise Invalid.one(("query", "kind"), f"unknown kind {bad[0]!r}; one of {', '.join(KINDS)}")
    if min_severity is not None and min_severity not in SEVERITIES:
        raise Invalid.one(("query", "min_severity"), f"must be one of {', '.join(SEVERITIES)}")
    async with cp.session() as s:
        await bot_for(s, who, bot_id)
        q = select(EventRecord).where(EventRecord.bot_id == bot_id)
        if kinds:
            q = q.where(col(EventRecord.kind).in_(kinds))
        if min_severity is not None:
            q = q.where(col(EventRecord.severity).in_(SEVERITIES[SEVERITIES.index(min_severity) :]))
        if cursor is not None:
            q = q.where(EventRecord.seq < cursor)
        rows = (await s.exec(q.order_by(col(EventRecord.seq).desc()).limit(limit + 1))).all()
    page, more = rows[:limit], len(rows) > limit
    return Page[EventOut](
        items=[
            EventOut(
                seq=e.seq, at=e.at, kind=e.kind, severity=e.severity, bot=e.bot_name, data=e.data
            )
            for e in page
        ],
        next_cursor=page[-1].seq if more else None,
    )


async def daily_stats(
    cp: ControlPlane, who: Principal, bot_id: int, *, days: int = 30
) -> list[DailyStatOut]:
    since = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days - 1)
    async with cp.session() as s:
        await bot_for(s, who, bot_id)
        rows = (
            await s.exec(
                select(DailyStat)
                .where(DailyStat.bot_id == bot_id, DailyStat.day >= since)
                .order_by(col(DailyStat.day).desc())
            )
        ).all()
    out = []
    for r in rows:
        d = DayStats(
            r.bot_id,
            r.tenant_id,
            r.day,
            r.volume_quote,
            r.fees_quote,
            r.fills,
            r.pnl_open_quote,
            r.pnl_close_quote,
            r.running_seconds,
            r.observed_seconds,
        )
        out.append(
            DailyStatOut(
                day=r.day,
                volume_quote=r.volume_quote,
                fees_quote=r.fees_quote,
                fills=r.fills,
                pnl_quote=d.pnl_quote,
                uptime_pct=d.uptime_pct,
            )
        )
    return out


async def subscribe(
    cp: ControlPlane,
    who: Principal,
    *,
    bot_id: int | None = None,
    agent_id: int | None = None,
    maxsize: int = 1000,
) -> Subscription:
    """Live updates for one bot, one agent, or (neither given) the caller's whole tenant.
    Ownership is checked here, so a subscription never crosses tenants."""
    async with cp.session() as s:
        if bot_id is not None:
            await bot_for(s, who, bot_id)
            return cp.pubsub.subscribe(f"bot:{bot_id}", maxsize=maxsize)
        if agent_id is not None:
            await agent_for(s, who, agent_id)
            return cp.pubsub.subscribe(f"agent:{agent_id}", maxsize=maxsize)
    return cp.pubsub.subscribe(f"tenant:{who.tenant_id}", maxsize=maxsize)
