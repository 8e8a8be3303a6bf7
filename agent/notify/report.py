"""The daily report: what happened to each bot since the last report (pure, no I/O).

The bot's own counters (host.status) give the totals and the current inventory; the period
numbers (fills, volume, fees, breaches since the last report) come from the events the notifier
saw, because the bot's day counters roll over at 00:00 UTC while the report time is the
operator's choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from agent.notify.messages import ZERO, Market, dec, duration, money, num

DAY = 86400.0


def next_report_at(now: float, hhmm: str) -> float:
    """Epoch seconds of the first `hhmm` (UTC) strictly after `now`."""
    hour, minute = (int(p) for p in hhmm.split(":"))
    today = datetime.fromtimestamp(now, UTC).replace(
        hour=hour, minute=minute, second=0, microsecond=0
    )
    at = today.timestamp()
    return at if at > now else (today + timedelta(days=1)).timestamp()


@dataclass(slots=True)
class Tally:
    """One bot's activity since the last report."""

    since: float
    fills: int = 0
    volume_quote: Decimal = ZERO
    fees_quote: Decimal = ZERO
    breaches: list[tuple[str, str]] = field(default_factory=list)  # (rule, action)
    errors: int = 0
    pnl_start: Decimal | None = None  # the bot's since-start PnL when the period began

    def add_fill(self, data: Mapping[str, Any], quote_asset: str) -> None:
        price, amount = dec(data.get("price")), dec(data.get("amount"))
        if price is None or amount is None:
            return
        self.fills += 1
        self.volume_quote += price * amount
        fee = dec(data.get("fee")) or ZERO
        # A fee in base is valued at the fill price, as the bot's ledger does.
        self.fees_quote += fee if data.get("fee_asset") == quote_asset else fee * price

    def add_breach(self, data: Mapping[str, Any]) -> None:
        self.breaches.append((str(data.get("rule", "?")), str(data.get("action", "?"))))


def format_daily_report(
    market: Market,
    status: Mapping[str, Any] | None,
    tally: Tally,
    *,
    now: float,
    agent_up_seconds: float,
) -> str:
    """One bot's daily summary: volume, fees, PnL, inventory, uptime, breaches."""
    q, b = market.quote, market.base
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M")
    lines = [f"📊 Daily report {stamp} UTC · {market.header}"]
    if status is None:
        lines.append("bot no longer on this agent")
    else:
        lines.append(
            f"state {status.get('state', '?')}"
            f" · quoting {num(status.get('quote_uptime_pct'), 1)} % of running time"
            f" · agent up {duration(agent_up_seconds)}"
        )
    lines.append(
        f"last {duration(now - tally.since)}: {tally.fills} fills,"
        f" volume {money(tally.volume_quote, q)}, fees {money(tally.fees_quote, q)}"
    )
    if status is not None:
        pnl = dec(status.get("pnl_quote"))
        period = (
            f"PnL {money(pnl - tally.pnl_start, q, signed=True)}"
            if (pnl is not None and tally.pnl_start is not None)
            else "PnL ?"
        )
        lines.append(
            f"{period} · since bot start {money(pnl, q, signed=True)}"
            f" · total volume {money(status.get('volume_quote'), q)}"
        )
        inv = f"inventory {num(status.get('base'))} {b} + {money(status.get('quote'), q)}"
        share = status.get("base_share_pct")
        if share is not None:
            inv += f" · {num(share, 1)} % in {b}"
            if status.get("inventory_target_base_pct") is not None:
                inv += f" (target {num(status['inventory_target_base_pct'], 1)} %)"
        lines.append(inv)
    if tally.breaches:
        counts: dict[tuple[str, str], int] = {}
        for key in tally.breaches:
            counts[key] = counts.get(key, 0) + 1
        listed = ", ".join(
            f"{rule} → {action}" + (f" ×{n}" if n > 1 else "")
            for (rule, action), n in counts.items()
        )
        lines.append(f"breaches: {len(tally.breaches)} ({listed})")
    else:
        lines.append("breaches: none")
    if tally.errors:
        lines.append(f"errors: {tally.errors}")
    return "\n".join(lines)
