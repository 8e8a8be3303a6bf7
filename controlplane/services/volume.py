"""Rolling 24 h traded volume per bot, from the control plane's fill archive."""

from __future__ import annotations

import time
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from controlplane.db.types import DecimalType
from controlplane.models import FillRecord

VOLUME_WINDOW_SECONDS = 24 * 3600


async def volume_24h(
    s: AsyncSession, tenant_id: int, bot_id: int | None = None, *, now: float | None = None
) -> dict[int, Decimal]:
    """Quote volume (price x amount) of the archived fills of the last 24 hours, per bot of
    one tenant (or of one of its bots); bots without fills in the window are absent.

    Rolling, unlike the daily stats (a UTC day): "volume over the last day" should not drop
    to zero at midnight. One query for all the tenant's bots, on the (tenant_id, at) index.
    Fill times are the agent's epoch seconds, compared with this machine's clock.
    PostgreSQL sums in the query (NUMERIC is exact); SQLite holds money as text and would sum
    it as binary floats, so there the same query returns the rows and Decimals are summed here.
    """
    since = (time.time() if now is None else now) - VOLUME_WINDOW_SECONDS
    where = [col(FillRecord.tenant_id) == tenant_id, col(FillRecord.at) >= since]
    if bot_id is not None:
        where.append(col(FillRecord.bot_id) == bot_id)
    bind = s.get_bind()
    if bind.dialect.name == "postgresql":
        notional = sa.type_coerce(
            sa.func.sum(col(FillRecord.price) * col(FillRecord.amount)), DecimalType()
        )
        grouped = await s.exec(
            select(FillRecord.bot_id, notional).where(*where).group_by(col(FillRecord.bot_id))
        )
        return {b: v for b, v in grouped.all() if v is not None}
    out: dict[int, Decimal] = {}
    rows = await s.exec(
        select(col(FillRecord.bot_id), col(FillRecord.price), col(FillRecord.amount)).where(*where)
    )
    for b, price, amount in rows.all():
        out[b] = out.get(b, Decimal(0)) + price * amount
    return out
