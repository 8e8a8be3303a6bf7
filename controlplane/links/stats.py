"""Daily statistics per bot, folded from archived events. Pure: no I/O.

Folded once per event: the archive writer folds only events that its insert reported as new,
so re-delivered events never count twice. Uptime is measured from the gaps between a bot's
consecutive events (the agent emits a status event at least every few seconds while a bot
lives), attributing each gap to the state the bot was in at its start; gaps longer than
MAX_GAP_SECONDS (an agent or link outage) count only up to that cap, so an outage neither
counts as running nor swamps the day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_GAP_SECONDS = 120.0
RUNNING = "RUNNING"
ZERO = Decimal(0)


@dataclass
class DayStats:
    bot_id: int
    tenant_id: int
    day: dt.date
    volume_quote: Decimal = ZERO
    fees_quote: Decimal = ZERO
    fills: int = 0
    pnl_open_quote: Decimal | None = None
    pnl_close_quote: Decimal | None = None
    running_seconds: float = 0.0
    observed_seconds: float = 0.0
    last_at: float | None = None
    last_state: str = ""

    @property
    def pnl_quote(self) -> Decimal | None:
        if self.pnl_open_quote is None or self.pnl_close_quote is None:
            return None
        return self.pnl_close_quote - self.pnl_open_quote

    @property
    def uptime_pct(self) -> Decimal | None:
        if self.observed_seconds <= 0:
            return None
        pct = Decimal(repr(self.running_seconds)) / Decimal(repr(self.observed_seconds)) * 100
        return pct.quantize(Decimal("0.01"))

    def row(self) -> dict[str, Any]:
        return {
            "bot_id": self.bot_id,
            "tenant_id": self.tenant_id,
            "day": self.day,
            "volume_quote": self.volume_quote,
            "fees_quote": self.fees_quote,
            "fills": self.fills,
            "pnl_open_quote": self.pnl_open_quote,
            "pnl_close_quote": self.pnl_close_quote,
            "running_seconds": self.running_seconds,
            "observed_seconds": self.observed_seconds,
            "last_at": self.last_at,
            "last_state": self.last_state,
        }


@dataclass
class BotClock:
    """What carries over from one event to the next, across days."""

    last_at: float | None = None
    last_state: str = ""
    last_pnl: Decimal | None = None


def utc_day(at: float) -> dt.date:
    return dt.datetime.fromtimestamp(at, dt.UTC).date()


def _dec(v: Any) -> Decimal | None:
    if not isinstance(v, str | int) or isinstance(v, bool) or v == "":
        return None  # money travels as decimal strings; a float here is a bug upstream
    try:
        d = Decimal(v)
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def fold(
    stats: DayStats,
    clock: BotClock,
    kind: str,
    at: float,
    data: dict[str, Any],
    base: str,
    quote: str,
) -> None:
    """Move `stats` (the day of `at`) and `clock` forward by one event."""
    if clock.last_at is not None and at > clock.last_at:
        gap = min(at - clock.last_at, MAX_GAP_SECONDS)
        stats.observed_seconds += gap
        if clock.last_state == RUNNING:
            stats.running_seconds += gap
    if clock.last_at is None or at > clock.last_at:
        clock.last_at = at
    if kind == "state" and data.get("to"):
        clock.last_state = str(data["to"])
    elif kind == "status" and data.get("state"):
        clock.last_state = str(data["state"])
    elif kind == "fill":
        price, amount, fee = (
            _dec(data.get("price")),
            _dec(data.get("amount")),
            _dec(data.get("fee")),
        )
        if price is not None and amount is not None:
            stats.volume_quote += price * amount
            stats.fills += 1
            asset = data.get("fee_asset")
            if fee is not None:
                if asset == quote:
                    stats.fees_quote += fee
                elif asset == base:
                    stats.fees_quote += fee * price
    if kind == "status":
        pnl = _dec(data.get("pnl_quote"))
        if pnl is not None:
            if stats.pnl_open_quote is None:
                stats.pnl_open_quote = clock.last_pnl if clock.last_pnl is not None else pnl
            stats.pnl_close_quote = pnl
            clock.last_pnl = pnl
    stats.last_at = clock.last_at
    stats.last_state = clock.last_state
