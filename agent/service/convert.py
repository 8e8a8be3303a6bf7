"""Host data <-> protobuf messages. Pure functions: no I/O, no host state.

Money is Decimal in the agent and a string on the wire: `dec()` is the only way out, so an
exact value is never rounded through a float. `None` (unknown) becomes "".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from agent.events import Event, json_default
from agent.journal import JournalOrder
from agent.proto.mmbot.agent.v1 import agent_pb2 as pb


def dec(value: Any) -> str:
    """A Decimal (or int, or decimal string) as exact text; None as ''."""
    if value is None:
        return ""
    if isinstance(value, float):
        # Floats never carry money here; if one shows up, keep its shortest exact repr.
        return repr(value)
    return str(value)


def to_json(value: Any) -> str:
    return json.dumps(value, default=json_default, separators=(",", ":"))


def event(ev: Event) -> pb.Event:
    return pb.Event(
        seq=ev.seq,
        at=ev.at,
        kind=ev.kind.value,
        bot=ev.bot,
        severity=ev.severity.value,
        data_json=to_json(ev.data),
    )


def bot_summary(
    d: Mapping[str, Any], cap: Mapping[str, Any], has_credentials: bool
) -> pb.BotSummary:
    return pb.BotSummary(
        name=d["name"],
        venue=d["venue"],
        symbol=d["symbol"],
        state=d["state"],
        config_version=d["config_version"],
        # Fields newer than this build's proto are dropped, not fatal (a test keeps them equal).
        capabilities=pb.Capabilities(
            **{k: v for k, v in cap.items() if k in pb.Capabilities.DESCRIPTOR.fields_by_name}
        ),
        has_credentials=has_credentials,
    )


def status(d: Mapping[str, Any]) -> pb.GetStatusResponse:
    balances = [
        pb.Balance(
            asset=asset,
            total=dec(b.get("total")),
            locked=dec(b.get("locked")),
            free=dec(b.get("free")),
        )
        for asset, b in (d.get("balances") or {}).items()
    ]
    return pb.GetStatusResponse(
        bot=d.get("name", ""),
        venue=d.get("venue", ""),
        symbol=d.get("symbol", ""),
        state=d.get("state", ""),
        state_reason=d.get("state_reason", ""),
        killed=bool(d.get("killed", False)),
        config_version=int(d.get("config_version", 0)),
        mid=dec(d.get("mid")),
        spread=dec(d.get("spread")),
        open_bids=int(d.get("open_bids", 0)),
        open_asks=int(d.get("open_asks", 0)),
        balances=balances,
        pnl_quote=dec(d.get("pnl_quote")),
        pnl_today_quote=dec(d.get("pnl_today_quote")),
        fees_quote=dec(d.get("fees_quote")),
        fills=int(d.get("fills", 0)),
        volume_quote=dec(d.get("volume_quote")),
        quote_uptime_pct=float(d.get("quote_uptime_pct", 0.0)),
        base_share_pct=dec(d.get("base_share_pct")),
        inventory_target_base_pct=dec(d.get("inventory_target_base_pct")),
        status_json=to_json(d),
    )


def preview(p: Mapping[str, Any]) -> pb.LadderPreview:
    def quotes(rows: list[Mapping[str, Any]]) -> list[pb.PreviewQuote]:
        return [
            pb.PreviewQuote(price=dec(q["price"]), amount=dec(q["amount"]), level=int(q["level"]))
            for q in rows
        ]

    return pb.LadderPreview(
        mid=dec(p.get("mid")),
        spread_pct=dec(p.get("spread_pct")),
        bids=quotes(p.get("bids", [])),
        asks=quotes(p.get("asks", [])),
        budget_used_quote=dec(p.get("budget_used_quote")),
        budget_used_base=dec(p.get("budget_used_base")),
        dropped=[
            pb.DroppedLevel(side=str(x["side"]), level=int(x["level"]), reason=str(x["reason"]))
            for x in p.get("dropped", [])
        ],
    )


def order(o: JournalOrder) -> pb.Order:
    return pb.Order(
        client_order_id=o.client_order_id,
        venue_order_id=o.venue_order_id,
        side=o.side,
        price=dec(o.price),
        amount=dec(o.amount),
        filled=dec(o.filled),
        status=o.status,
        post_only=o.post_only,
        tag=o.tag,
        created_at=o.created_at,
        updated_at=o.updated_at,
    )


def order_doc(o: pb.Order) -> dict[str, Any]:
    """An Order message as the clients (`mmbot ctl`, the control plane's links) keep it:
    money stays the exact text it arrived as."""
    return {
        "client_order_id": o.client_order_id,
        "venue_order_id": o.venue_order_id,
        "side": o.side,
        "price": o.price,
        "amount": o.amount,
        "filled": o.filled,
        "status": o.status,
        "post_only": o.post_only,
        "tag": o.tag,
        "created_at": o.created_at,
        "updated_at": o.updated_at,
    }


def fill(f: Mapping[str, Any]) -> pb.Fill:
    return pb.Fill(
        trade_id=f["trade_id"],
        client_order_id=f["client_order_id"],
        side=f["side"],
        price=dec(f["price"]),
        amount=dec(f["amount"]),
        fee=dec(f["fee"]),
        fee_asset=f["fee_asset"],
        liquidity=f["liquidity"],
        at=float(f["at"]),
        seq=int(f["seq"]),
    )


# ---------------------------------------------------------------- client side (ctl, control plane)


def event_dict(ev: pb.Event) -> dict[str, Any]:
    """The same document as `agent.events.Event.to_dict()` (Decimals stay strings)."""
    out: dict[str, Any] = {
        "seq": ev.seq,
        "at": round(ev.at, 6),
        "kind": ev.kind,
        "bot": ev.bot,
        "severity": ev.severity,
    }
    out.update(json.loads(ev.data_json or "{}"))
    return out
