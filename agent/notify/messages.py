"""What the operator reads: events turned into short Telegram texts (pure, no I/O).

Every alert names the bot and the market and gives numbers with their units, because it is read
on a phone, out of context, possibly hours later. Which events are worth a message, and which of
those are critical (retried until delivered, never shed for routine ones), is decided here in one
place; the notifier only queues and sends.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from agent.config import NotifyLevel
from agent.events import Event, EventKind, Severity

ZERO = Decimal(0)


class NotifyKind(enum.StrEnum):
    """Keys of `notifications.telegram.levels`."""

    STATE = "state"  # the bot changed state (RUNNING, PAUSED, STOPPED, ERROR, kill switch)
    RISK = "risk"  # risk breaches and what they did
    ERROR = "error"  # API problems, stream outages, unconfirmed cancels
    FILL = "fill"  # fills, aggregated into one digest per fill_digest_seconds
    VOLUME = "volume"  # volume program milestones and caps
    DAILY_REPORT = "daily_report"  # the summary at daily_report_utc


KIND_NAMES = frozenset(k.value for k in NotifyKind)

DEFAULT_LEVELS: dict[NotifyKind, NotifyLevel] = {
    NotifyKind.STATE: NotifyLevel.ON,
    NotifyKind.RISK: NotifyLevel.ON,
    NotifyKind.ERROR: NotifyLevel.ON,
    NotifyKind.FILL: NotifyLevel.SILENT,
    NotifyKind.VOLUME: NotifyLevel.ON,
    NotifyKind.DAILY_REPORT: NotifyLevel.ON,
}

# States an operator cares about; INIT/SYNC_BALANCES/START_QUOTING pass within a second.
SETTLED_STATES = frozenset({"RUNNING", "PAUSED", "STOPPED", "ERROR"})
CRITICAL_STATES = frozenset({"STOPPED", "ERROR"})
CRITICAL_ACTIONS = frozenset({"STOP", "KILL"})
VOLUME_CAPS = frozenset({"max_daily_notional", "max_daily_loss"})
QUIET_RISK_CODES = frozenset({"new_day"})  # bookkeeping; the daily report covers the day

STATE_ICON = {"RUNNING": "▶️", "PAUSED": "⏸", "STOPPED": "⏹", "ERROR": "🛑"}
ACTION_TEXT = {
    "PAUSE": "bot paused",
    "STOP": "bot stopped",
    "KILL": "KILL SWITCH: orders cancelled, restart needed",
}


@dataclass(frozen=True, slots=True)
class Market:
    """Which bot trades what; every message starts with it."""

    bot: str
    symbol: str = "?/?"

    @property
    def base(self) -> str:
        return self.symbol.partition("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.partition("/")[2]

    @property
    def header(self) -> str:
        return f"{self.bot} · {self.symbol}"


@dataclass(frozen=True, slots=True)
class Alert:
    kind: NotifyKind
    text: str
    critical: bool = False
    key: str | None = None  # repeats with the same key merge while waiting to be sent


# ---------------------------------------------------------------------- numbers


def dec(value: Any) -> Decimal | None:
    """Event data carries Decimals live and strings after the journal; accept both."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _fixed(d: Decimal, places: int, *, trim: bool) -> str:
    q = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN) if places >= 0 else d
    text = f"{q:,.{max(places, 0)}f}"
    if trim and "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def num(value: Any, places: int = 8) -> str:
    """A quantity: grouped thousands, at most `places` decimals, no trailing zeros."""
    d = dec(value)
    return "?" if d is None else _fixed(d, places, trim=True)


def sig(value: Any, digits: int = 6) -> str:
    """A price: `digits` significant digits, so 0.00001234 and 41,234.5 both read well."""
    d = dec(value)
    if d is None:
        return "?"
    if d == 0:
        return "0"
    places = max(0, digits - 1 - d.adjusted())
    return _fixed(d, places, trim=True)


def money(value: Any, asset: str = "", *, signed: bool = False) -> str:
    """An amount of quote currency: two decimals (more for amounts below one)."""
    d = dec(value)
    if d is None:
        text = "?"
    elif d != 0 and abs(d) < 1:
        text = sig(d, 4)
    else:
        text = _fixed(d, 2, trim=False)
    if signed and d is not None and d > 0:
        text = "+" + text
    return f"{text} {asset}".rstrip()


def duration(seconds: float) -> str:
    s = round(max(0.0, seconds))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{s} s"


# ---------------------------------------------------------------------- events -> alerts

_RULE_UNIT = {
    "price_deviation": "%",
    "price_move": "%",
    "stale_data": " s",
    "api_errors": "/min",
    "rejects": "/min",
    "open_orders": " orders",
}


def alert_for(ev: Event, market: Market) -> Alert | None:
    """The alert an event deserves, or None. Fills are not alerted one by one (see
    FillDigest); orders, status ticks and config versions are the console's business."""
    if ev.kind is EventKind.STATE:
        return _state_alert(ev, market)
    if ev.kind is EventKind.RISK:
        return _risk_alert(ev, market)
    if ev.kind in (EventKind.ERROR, EventKind.WARNING):
        return _problem_alert(ev, market)
    if ev.kind is EventKind.VOLUME:
        return _volume_alert(ev, market)
    return None


def _is_kill(ev: Event) -> bool:
    text = " ".join(str(ev.data.get(k, "")) for k in ("code", "reason", "action")).lower()
    return "kill" in text


def _state_alert(ev: Event, market: Market) -> Alert | None:
    dst = str(ev.data.get("to", ""))
    if dst not in SETTLED_STATES:
        return None
    src = str(ev.data.get("from", "?"))
    reason = str(ev.data.get("reason", "")).strip()
    if dst == "STOPPED" and _is_kill(ev):
        text = f"☠️ {market.header}: KILL SWITCH, bot STOPPED (was {src})"
    else:
        text = f"{STATE_ICON[dst]} {market.header}: {dst} (was {src})"
    if reason:
        text += f"\nreason: {reason}"
    return Alert(NotifyKind.STATE, text, critical=dst in CRITICAL_STATES)


def _risk_alert(ev: Event, market: Market) -> Alert | None:
    d = ev.data
    code = str(d.get("code", ""))
    if code in QUIET_RISK_CODES and ev.severity in (Severity.DEBUG, Severity.INFO):
        return None
    message = str(d.get("message", "")).strip()
    action = str(d.get("action", "")).upper()
    critical = action in CRITICAL_ACTIONS or ev.severity is Severity.CRITICAL or _is_kill(ev)
    if code == "breach" or "rule" in d:
        rule = str(d.get("rule", "?"))
        unit = f" {market.quote}" if rule == "daily_loss" else _RULE_UNIT.get(rule, "")
        value, limit = d.get("value"), d.get("limit")
        lines = [f"🚨 {market.header}: risk breach {rule}"]
        if value is not None and limit is not None:
            lines.append(f"{num(value, 4)}{unit} > limit {num(limit, 4)}{unit}")
        elif message:
            lines.append(message)
        if action:
            lines.append(f"→ {action}: {ACTION_TEXT.get(action, action.lower())}")
        return Alert(NotifyKind.RISK, "\n".join(lines), critical=critical)
    icon = "🚨" if critical else ("✅" if ev.severity is Severity.INFO else "⚠️")
    label = code.replace("_", " ") or "risk"
    text = f"{icon} {market.header}: {label}" + (f": {message}" if message else "")
    if action:
        text += f" → {action}"
    return Alert(NotifyKind.RISK, text, critical=critical, key=None if critical else f"risk:{code}")


def _problem_alert(ev: Event, market: Market) -> Alert | None:
    d = ev.data
    code = str(d.get("code", ""))
    message = str(d.get("message", "")).strip()
    if code == "stream_up":
        stream = d.get("stream", "market data")
        return Alert(
            NotifyKind.ERROR,
            f"📡 {market.header}: {stream} stream back up",
            key=f"stream:{market.bot}:{stream}",
        )
    if code == "stream_down":
        stream = d.get("stream", "market data")
        text = f"📡 {market.header}: {stream} stream down"
        return Alert(
            NotifyKind.ERROR,
            text + (f": {message}" if message else ""),
            key=f"stream:{market.bot}:{stream}",
        )
    if ev.severity not in (Severity.WARNING, Severity.ERROR, Severity.CRITICAL):
        return None  # routine notes (skipped orders, restored orders) stay in the journal
    critical = ev.severity is Severity.CRITICAL or _is_kill(ev)
    icon = "🛑" if critical else "⚠️"
    what = "API error" if ev.kind is EventKind.ERROR else "warning"
    text = f"{icon} {market.header}: {what} {code or '?'}" + (f": {message}" if message else "")
    if "count" in d:
        text += f" ({d['count']})"
    return Alert(
        NotifyKind.ERROR,
        text,
        critical=critical,
        key=None if critical else f"{ev.kind.value}:{market.bot}:{code}",
    )


def _volume_alert(ev: Event, market: Market) -> Alert | None:
    """Volume program events (agent/volume_runner.py; shapes in docs/telegram.md):
    milestone: {"code": "milestone", "milestone": 50, "done": D, "target": D}
    cap:       {"code": "cap", "cap": "max_daily_notional reached: ...", "done": D,
                "limit": D (optional)}
    `done_quote`/`target_quote` are accepted for `done`/`target`."""
    d = ev.data
    q = market.quote
    done = d.get("done", d.get("done_quote"))
    if d.get("cap") or d.get("code") == "cap":
        cap = str(d.get("cap") or d.get("reason") or "cap").strip()
        if cap in VOLUME_CAPS:
            cap += " reached"
        lines = [f"🛑 {market.header}: volume program stopped for today: {cap}"]
        if done is not None:
            limit = f" (cap {money(d['limit'], q)})" if d.get("limit") is not None else ""
            lines.append(f"done {money(done, q)}{limit}")
        return Alert(NotifyKind.VOLUME, "\n".join(lines), critical=True)
    if d.get("milestone") is not None:
        text = f"📈 {market.header}: volume program at {num(d['milestone'], 1)} % of today's target"
        target = d.get("target", d.get("target_quote"))
        if done is not None and target is not None:
            text += f"\n{money(done, q)} of {money(target, q)}"
        return Alert(NotifyKind.VOLUME, text)
    if ev.severity in (Severity.WARNING, Severity.ERROR, Severity.CRITICAL):
        message = str(d.get("message") or d.get("reason") or d.get("code") or "")
        return Alert(
            NotifyKind.VOLUME,
            f"⚠️ {market.header}: volume program: {message}",
            critical=ev.severity is Severity.CRITICAL,
        )
    return None


# ---------------------------------------------------------------------- fills


@dataclass(slots=True)
class _Side:
    count: int = 0
    base: Decimal = ZERO
    quote: Decimal = ZERO

    def add(self, price: Decimal, amount: Decimal) -> None:
        self.count += 1
        self.base += amount
        self.quote += price * amount

    @property
    def avg(self) -> Decimal | None:
        return self.quote / self.base if self.base else None


@dataclass(slots=True)
class FillDigest:
    """Fills of one bot since the last digest: one message per period instead of one per fill
    (a busy grid fills many times a minute)."""

    buys: _Side = field(default_factory=_Side)
    sells: _Side = field(default_factory=_Side)
    fees: dict[str, Decimal] = field(default_factory=dict)
    maker: int = 0

    @property
    def count(self) -> int:
        return self.buys.count + self.sells.count

    def add(self, data: Mapping[str, Any]) -> None:
        price, amount = dec(data.get("price")), dec(data.get("amount"))
        if price is None or amount is None:
            return
        (self.buys if str(data.get("side")) == "buy" else self.sells).add(price, amount)
        fee = dec(data.get("fee"))
        if fee:
            asset = str(data.get("fee_asset", "?"))
            self.fees[asset] = self.fees.get(asset, ZERO) + fee
        if data.get("liquidity") == "maker":
            self.maker += 1

    def format(self, market: Market, seconds: float) -> str:
        b, q = market.base, market.quote
        n = self.count
        lines = [f"💱 {market.header}: {n} fill{'s' if n != 1 else ''} in {duration(seconds)}"]
        for label, side in (("bought", self.buys), ("sold", self.sells)):
            if side.count:
                lines.append(
                    f"{label} {num(side.base)} {b} for {money(side.quote, q)}"
                    f" ({side.count} fill{'s' if side.count != 1 else ''},"
                    f" avg {sig(side.avg)} {q})"
                )
        volume = self.buys.quote + self.sells.quote
        fees = " + ".join(
            money(v, a) if a == q else f"{num(v)} {a}" for a, v in sorted(self.fees.items())
        ) or money(ZERO, q)
        lines.append(f"volume {money(volume, q)} · fees {fees} · maker {self.maker}/{n}")
        return "\n".join(lines)


# ---------------------------------------------------------------------- status


def format_status(market: Market, status: Mapping[str, Any]) -> str:
    """/status: the few numbers that tell whether a bot is healthy."""
    q = market.quote
    state = str(status.get("state", "?"))
    head = f"{STATE_ICON.get(state, 'ℹ️')} {market.header}: {state}"
    if status.get("killed"):
        head += " (kill switch: restart needed)"
    reason = status.get("state_reason")
    if reason:
        head += f" ({reason})"
    lines = [head]
    market_line = f"mid {sig(status.get('mid'))} {q}" if status.get("mid") is not None else ""
    if status.get("spread") is not None:
        market_line += f" · spread {sig(status.get('spread'), 4)} {q}"
    orders = f"orders {status.get('open_bids', 0)} bids / {status.get('open_asks', 0)} asks"
    lines.append(f"{market_line} · {orders}" if market_line else orders)
    lines.append(_inventory_line(market, status))
    lines.append(
        f"PnL today {money(status.get('pnl_today_quote'), q, signed=True)}"
        f" · since start {money(status.get('pnl_quote'), q, signed=True)}"
    )
    lines.append(
        f"volume {money(status.get('volume_quote'), q)} in {status.get('fills', 0)} fills"
        f" · fees {money(status.get('fees_quote'), q)}"
        f" · quoting {num(status.get('quote_uptime_pct'), 1)} % of running time"
    )
    return "\n".join(lines)


def _inventory_line(market: Market, status: Mapping[str, Any]) -> str:
    b, q = market.base, market.quote
    text = f"inventory {num(status.get('base'))} {b} + {money(status.get('quote'), q)}"
    share = status.get("base_share_pct")
    if share is not None:
        text += f" · {num(share, 1)} % in {b}"
        target = status.get("inventory_target_base_pct")
        if target is not None:
            text += f" (target {num(target, 1)} %)"
    return text


HELP_TEXT = """mmbot commands
/status [bot]: state, inventory, PnL, volume
/pause [bot]: stop quoting now (orders cancelled)
/resume [bot]: quote again (asks to confirm)
/stop [bot]: stop the bot and cancel its orders (asks to confirm)
/cancelall [bot]: cancel every open order of the bot (asks to confirm)
/help: this list
[bot] is needed only when the agent runs several bots."""
