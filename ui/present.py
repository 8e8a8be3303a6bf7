"""Pure functions that turn service-layer data into what the pages show: rows, badges and
ECharts options. No NiceGUI here, so they are cheap to test."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal, InvalidOperation
from typing import Any

from agent import lifecycle

SEVERITIES = ("debug", "info", "warning", "error", "critical")
RUNNING_STATES = {"RUNNING", "QUOTING"}
BAD_STATES = {"STOPPED", "KILLED", "HALTED", "ERROR", "FAILED"}


def dec(v: Any) -> Decimal | None:
    if v is None or v == "":
        return None
    try:
        d = Decimal(str(v))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def fmt(v: Any, places: int | None = None) -> str:
    """Decimals as text without float rounding; `places` only trims for display."""
    d = dec(v)
    if d is None:
        return "–" if v is None or v == "" else str(v)
    if places is not None:
        d = d.quantize(Decimal(1).scaleb(-places)) if d.adjusted() > -places else d
    s = format(d.normalize(), "f") if d == d.to_integral() else format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def fmt_time(ts: float | dt.datetime | None) -> str:
    if ts is None:
        return "–"
    if isinstance(ts, dt.datetime):
        d = ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)
    else:
        d = dt.datetime.fromtimestamp(float(ts), dt.UTC)
    return d.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(ts: float | dt.datetime | None, now: float | None = None) -> str:
    if ts is None:
        return "never"
    t = ts.timestamp() if isinstance(ts, dt.datetime) else float(ts)
    s = max(0, int((time.time() if now is None else now) - t))
    if s < 60:
        return f"{s}s ago"
    if s < 3600:
        return f"{s // 60}m ago"
    if s < 86400:
        return f"{s // 3600}h ago"
    return f"{s // 86400}d ago"


def state_color(state: str) -> str:
    if state in RUNNING_STATES:
        return "positive"
    if state in BAD_STATES:
        return "negative"
    if state in {"PAUSED", "PAUSING", "STOPPING"}:
        return "warning"
    return "grey"


def risk_color(status: str | None) -> str:
    return {"OK": "positive", "WARN": "warning", "WARNING": "warning"}.get(
        status or "", "negative" if status else "grey"
    )


def risk_rows(risk: dict[str, Any] | None) -> list[dict[str, Any]]:
    rows = []
    for r in (risk or {}).get("rules") or []:
        state = str(r.get("state") or "")
        rows.append(
            {
                "rule": str(r.get("rule", "")),
                "value": fmt(r.get("value")),
                "limit": fmt(r.get("limit")),
                "state": state,
                "action": str(r.get("action") or "–"),
                "breach": state not in ("OK", ""),
            }
        )
    return rows


def order_rows(orders: list[dict[str, Any]], now: float | None = None) -> list[dict[str, Any]]:
    t = time.time() if now is None else now
    out = []
    for o in orders:
        created = o.get("created_at")
        out.append(
            {
                "id": str(o.get("client_order_id", "")),
                "side": str(o.get("side", "")),
                "price": fmt(o.get("price")),
                "amount": fmt(o.get("amount")),
                "filled": fmt(o.get("filled")),
                "status": str(o.get("status", "")),
                "age": f"{int(t - float(created))}s" if created else "–",
            }
        )
    # asks high to low, then bids high to low: reads like an order book
    out.sort(key=lambda r: (r["side"] != "sell", -(dec(r["price"]) or Decimal(0))))
    return out


def fill_rows(fills: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{f.get('trade_id', '')}-{f.get('seq', i)}",
            "time": fmt_time(f.get("at")),
            "side": str(f.get("side", "")),
            "price": fmt(f.get("price")),
            "amount": fmt(f.get("amount")),
            "fee": f"{fmt(f.get('fee'))} {f.get('fee_asset', '')}".strip(),
            "liquidity": str(f.get("liquidity", "")),
        }
        for i, f in enumerate(fills)
    ]


def event_text(e: dict[str, Any]) -> str:
    skip = {"seq", "at", "kind", "severity", "bot", "agent_id", "bot_id"}
    data = e.get("data") if isinstance(e.get("data"), dict) else e
    parts = [f"{k}={v}" for k, v in (data or {}).items() if k not in skip]
    return ", ".join(parts)[:300]


def event_rows(
    events: list[dict[str, Any]], min_severity: str = "debug", kinds: list[str] | None = None
) -> list[dict[str, Any]]:
    floor = SEVERITIES.index(min_severity) if min_severity in SEVERITIES else 0
    out = []
    for e in events:
        sev = str(e.get("severity", "info"))
        if (SEVERITIES.index(sev) if sev in SEVERITIES else 1) < floor:
            continue
        if kinds and e.get("kind") not in kinds:
            continue
        out.append(
            {
                "seq": int(e.get("seq", 0)),
                "time": fmt_time(e.get("at")),
                "severity": sev,
                "kind": str(e.get("kind", "")),
                "text": event_text(e),
            }
        )
    return out


def inventory_rows(status: dict[str, Any]) -> list[dict[str, Any]]:
    bal = status.get("balances") or {}
    return [
        {
            "asset": asset,
            "free": fmt(b.get("free")),
            "locked": fmt(b.get("locked")),
            "total": fmt(b.get("total")),
        }
        for asset, b in bal.items()
        if isinstance(b, dict)
    ]


def mid_chart(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Mid price with the bot's best and outermost bid/ask over time."""

    def series(name: str, key: str, color: str, dashed: bool = False) -> dict[str, Any]:
        return {
            "name": name,
            "type": "line",
            "showSymbol": False,
            "connectNulls": True,
            "lineStyle": {"color": color, "type": "dashed" if dashed else "solid"},
            "itemStyle": {"color": color},
            "data": [[p["t"] * 1000, _num(p.get(key))] for p in points],
        }

    return {
        "animation": False,
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 70, "right": 16, "top": 30, "bottom": 30},
        "xAxis": {"type": "time"},
        "yAxis": {"type": "value", "scale": True},
        "series": [
            series("mid", "mid", "#1976d2"),
            series("own best bid", "bid", "#21ba45"),
            series("own best ask", "ask", "#c10015"),
            series("own lowest bid", "bid_far", "#21ba45", True),
            series("own highest ask", "ask_far", "#c10015", True),
        ],
    }


def _num(v: Any) -> float | None:
    """Charts need numbers; this is display only (orders never pass through here)."""
    d = dec(v)
    return float(d) if d is not None else None


def ladder_point(t: float, status: dict[str, Any], orders: list[dict[str, Any]]) -> dict[str, Any]:
    bids = [dec(o.get("price")) for o in orders if o.get("side") == "buy"]
    asks = [dec(o.get("price")) for o in orders if o.get("side") == "sell"]
    b = [x for x in bids if x is not None]
    a = [x for x in asks if x is not None]
    return {
        "t": t,
        "mid": status.get("mid"),
        "bid": str(max(b)) if b else None,
        "ask": str(min(a)) if a else None,
        "bid_far": str(min(b)) if b else None,
        "ask_far": str(max(a)) if a else None,
    }


DepthSide = list[tuple[Decimal, Decimal]]  # (price, amount) per level, exact
NO_BOOK = "no book from the agent yet"
OFFLINE_BOOK = "agent offline: no live book"


def _levels(rows: Any) -> DepthSide:
    """A book side from the status document; levels that are not positive numbers are left
    out rather than drawn as zero."""
    out: DepthSide = []
    for r in rows if isinstance(rows, list) else []:
        p = dec(r.get("price")) if isinstance(r, dict) else None
        a = dec(r.get("amount")) if isinstance(r, dict) else None
        if p is not None and a is not None and p > 0 and a > 0:
            out.append((p, a))
    return out


def cumulative_depth(book: dict[str, Any] | None) -> tuple[DepthSide, DepthSide] | None:
    """(bids, asks) as (price, amount resting at that price or better), ascending by price,
    summed in Decimal; None when there is no book or a side is empty (nothing to show)."""
    if not isinstance(book, dict):
        return None
    bids = sorted(_levels(book.get("bids")), key=lambda lv: lv[0], reverse=True)
    asks = sorted(_levels(book.get("asks")), key=lambda lv: lv[0])
    if not bids or not asks:
        return None

    def cumulate(side: DepthSide) -> DepthSide:
        total, out = Decimal(0), []
        for price, amount in side:
            total += amount
            out.append((price, total))
        return out

    return list(reversed(cumulate(bids))), cumulate(asks)


def _depth_at(side: DepthSide, price: Decimal, buy: bool) -> Decimal:
    """Market depth at `price` on one side: what rests at that price or better."""
    if buy:  # bids: every level at or above the price
        return next((cum for p, cum in side if p >= price), Decimal(0))
    return next((cum for p, cum in reversed(side) if p <= price), Decimal(0))


def book_caption(book: dict[str, Any] | None) -> str:
    """When the venue's book was taken (the status is polled; the book may lag the mid)."""
    at = book.get("at") if isinstance(book, dict) else None
    return f"book as of {fmt_time(at)}" if isinstance(at, int | float) else ""


def market_depth_chart(
    book: dict[str, Any] | None, orders: list[dict[str, Any]], mid: Any = None
) -> dict[str, Any] | None:
    """Cumulative market depth from the venue's book (bids stepping up to the left of the
    mid, asks to the right), with the bot's own open orders marked on the curve at their
    price, sized by what is left of them. None when there is no book to draw: the page says
    so instead of drawing an empty chart."""
    depth = cumulative_depth(book)
    if depth is None:
        return None
    bids, asks = depth

    def line(name: str, side: DepthSide, step: str, color: str) -> dict[str, Any]:
        return {
            "name": name,
            "type": "line",
            # between two levels the depth is that of the level nearer the mid
            "step": step,
            "showSymbol": False,
            "areaStyle": {"opacity": 0.3},
            "color": color,
            "data": [[_num(p), _num(c)] for p, c in side],
        }

    own: dict[str, list[tuple[Decimal, Decimal]]] = {"buy": [], "sell": []}
    for o in orders:
        side, price, amount = o.get("side"), dec(o.get("price")), dec(o.get("amount"))
        if side not in own or price is None or amount is None:
            continue
        left = amount - (dec(o.get("filled")) or Decimal(0))
        if left > 0:
            own[str(side)].append((price, left))
    biggest = max((a for rows in own.values() for _, a in rows), default=Decimal(1))

    def marks(side: str, color: str) -> dict[str, Any]:
        buy = side == "buy"
        return {
            "name": "own bids" if buy else "own asks",
            "type": "scatter",
            "color": color,
            "itemStyle": {"borderColor": "#fff", "borderWidth": 1},
            "z": 3,
            "data": [
                {
                    "name": f"own {side} {fmt(left)} @ {fmt(price)}",
                    "value": [_num(price), _num(_depth_at(bids if buy else asks, price, buy))],
                    "symbolSize": 6 + round(12 * float(left / biggest)),
                }
                for price, left in sorted(own[side])
            ],
        }

    series = [
        line("bids", bids, "start", "#21ba45"),
        line("asks", asks, "end", "#c10015"),
        marks("buy", "#1b5e20"),
        marks("sell", "#7f0000"),
    ]
    return _price_chart(series, "cum. amount", _num(mid))


def _price_chart(series: list[dict[str, Any]], y_name: str, mid: float | None) -> dict[str, Any]:
    """ECharts options for series over a price axis, with the mid marked on the first one."""
    if mid is not None and series:
        series[0]["markLine"] = {
            "symbol": "none",
            "silent": True,
            "data": [{"xAxis": mid, "name": "mid"}],
            "lineStyle": {"color": "#1976d2"},
            "label": {"formatter": "mid"},
        }
    return {
        "animation": False,
        "tooltip": {"trigger": "item"},
        "legend": {"top": 0},
        "grid": {"left": 70, "right": 16, "top": 30, "bottom": 30},
        "xAxis": {"type": "value", "scale": True, "name": "price"},
        "yAxis": {"type": "value", "name": y_name},
        "series": series,
    }


def preview_rows(preview: dict[str, Any] | None) -> list[dict[str, Any]]:
    rows = []
    for side, key in (("sell", "asks"), ("buy", "bids")):
        for q in (preview or {}).get(key) or []:
            p, a = dec(q.get("price")), dec(q.get("amount"))
            rows.append(
                {
                    "id": f"{side}-{q.get('level')}",
                    "side": side,
                    "level": q.get("level"),
                    "price": fmt(p),
                    "amount": fmt(a),
                    "notional": fmt(p * a if p is not None and a is not None else None, 6),
                }
            )
    return rows


def preview_chart(preview: dict[str, Any] | None) -> dict[str, Any]:
    pv = preview or {}

    def pts(key: str) -> list[list[float | None]]:
        return [[_num(q.get("price")), _num(q.get("amount"))] for q in pv.get(key) or []]

    series: list[dict[str, Any]] = [
        {"name": "bids", "type": "bar", "color": "#21ba45", "barMaxWidth": 8, "data": pts("bids")},
        {"name": "asks", "type": "bar", "color": "#c10015", "barMaxWidth": 8, "data": pts("asks")},
    ]
    return _price_chart(series, "amount", _num(pv.get("mid")))


def allowed_commands(state: str, online: bool) -> frozenset[str]:
    """The controls to offer: none while the agent is offline (every command would fail),
    else what the bot's lifecycle table accepts in its state; all of them when the state is
    not one the table knows (the agent decides and says why it refuses)."""
    if not online:
        return frozenset()
    try:
        return lifecycle.allowed_commands(lifecycle.BotState(state))
    except ValueError:
        return frozenset({"start", "pause", "resume", "stop", "cancel-all", "kill"})
