"""Bots: list, live status, and the paged archives (orders, fills, events) and daily stats."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from controlplane.api.deps import CP, Who
from controlplane.schemas import BotDetail, BotOut, DailyStatOut, EventOut, FillOut, OrderOut, Page
from controlplane.services import bots

router = APIRouter(prefix="/bots", tags=["bots"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such bot"}}
Cursor = Annotated[
    int | None, Query(ge=0, le=2**62, description="next_cursor of the previous page")
]
Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("", response_model=list[BotOut])
async def list_bots(cp: CP, who: Who) -> list[BotOut]:
    return await bots.list_bots(cp, who)


@router.get("/{bot_id}", response_model=BotDetail, responses=NOT_FOUND)
async def get_bot(cp: CP, who: Who, bot_id: int) -> BotDetail:
    """The bot with its live view (state, ladder, open orders, balances, risk, volume)."""
    return await bots.get_bot(cp, who, bot_id)


@router.get("/{bot_id}/orders", response_model=Page[OrderOut], responses=NOT_FOUND)
async def list_orders(
    cp: CP,
    who: Who,
    bot_id: int,
    status: Literal["open", "all"] = "all",
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Page[OrderOut]:
    return await bots.list_orders(cp, who, bot_id, status=status, cursor=cursor, limit=limit)


@router.get("/{bot_id}/fills", response_model=Page[FillOut], responses=NOT_FOUND)
async def list_fills(
    cp: CP, who: Who, bot_id: int, cursor: Cursor = None, limit: Limit = 100
) -> Page[FillOut]:
    return await bots.list_fills(cp, who, bot_id, cursor=cursor, limit=limit)


@router.get("/{bot_id}/events", response_model=Page[EventOut], responses=NOT_FOUND)
async def list_events(
    cp: CP,
    who: Who,
    bot_id: int,
    kind: Annotated[list[bots.Kind] | None, Query(description="Only these kinds")] = None,
    min_severity: bots.SeverityName | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Page[EventOut]:
    return await bots.list_events(
        cp, who, bot_id, kinds=kind, min_severity=min_severity, cursor=cursor, limit=limit
    )


@router.get("/{bot_id}/stats", response_model=list[DailyStatOut], responses=NOT_FOUND)
async def daily_stats(
    cp: CP, who: Who, bot_id: int, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> list[DailyStatOut]:
    """Volume, fees, PnL and uptime per UTC day, newest first."""
    return await bots.daily_stats(cp, who, bot_id, days=days)
