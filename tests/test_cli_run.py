"""`mmbot agent run` as a user runs it: a subprocess, JSON on stdout, events in a file."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from agent.config import load_config
from tests.simrun import ROOT

EXAMPLE = ROOT / "examples" / "ushark.yaml"


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mmbot.cli", "agent", "run", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_ten_minutes_at_max_speed_obeys_every_rule(tmp_path: Path) -> None:
    events_out = tmp_path / "events.jsonl"
    proc = _run(
        "--config",
        str(EXAMPLE),
        "--venue",
        "sim",
        "--duration",
        "600",
        "--speed",
        "max",
        "--json",
        "--events-out",
        str(events_out),
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for key in (
        "state",
        "venue",
        "symbol",
        "mid",
        "market",
        "open_orders_before_stop",
        "orders_placed",
        "orders_canceled",
        "fills",
        "volume_quote",
        "maker_volume_quote",
        "taker_volume_quote",
        "fees_quote",
        "pnl_quote",
        "balances",
        "self_trades",
        "quote_uptime_pct",
        "venue_calls",
        "risk",
        "volume",
    ):
        assert key in out, key
    assert out["state"] == "STOPPED" and out["venue"] == "sim" and out["symbol"] == "USHARK/USDT"
    assert out["fills"] > 0 and Decimal(out["volume_quote"]) > 0
    assert out["self_trades"] == 0
    assert out["quote_uptime_pct"] >= 99
    assert out["open_orders_after_stop"] == 0
    cfg = load_config(EXAMPLE).market_making
    tick = Decimal(out["market"]["tick_size"])
    lot = Decimal(out["market"]["lot_size"])
    min_notional = Decimal(out["market"]["min_notional"])
    mid = Decimal(out["mid"])
    ladder = out["open_orders_before_stop"]
    bids = [o for o in ladder if o["side"] == "buy"]
    asks = [o for o in ladder if o["side"] == "sell"]
    assert 0 < len(bids) <= cfg.levels_down and 0 < len(asks) <= cfg.levels_up
    for o in ladder:
        price, amount = Decimal(o["price"]), Decimal(o["amount"])
        assert o["post_only"] is True
        assert price % tick == 0 and amount % lot == 0
        assert price * amount >= min_notional
        assert o["client_order_id"].startswith("mm")
    assert max(Decimal(o["price"]) for o in bids) < min(Decimal(o["price"]) for o in asks)
    budget_q = sum(Decimal(o["price"]) * Decimal(o["amount"]) for o in bids)
    budget_b = sum(Decimal(o["amount"]) for o in asks)
    assert budget_q <= cfg.budget_quote and budget_b <= cfg.budget_base
    for o in bids:
        assert cfg.buy_order_min <= Decimal(o["price"]) * Decimal(o["amount"]) <= cfg.buy_order_max
    for o in asks:
        assert cfg.sell_order_min <= Decimal(o["amount"]) <= cfg.sell_order_max
    inner = min(Decimal(o["price"]) for o in asks) - max(Decimal(o["price"]) for o in bids)
    assert inner / mid * 100 <= cfg.spread_max_pct + 2 * tick / mid * 100 + Decimal("0.5")

    events = _events(events_out)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert all(events[i]["at"] <= events[i + 1]["at"] for i in range(len(events) - 1))
    kinds = {e["kind"] for e in events}
    assert {"state", "order", "fill"} <= kinds
    order = next(e for e in events if e["kind"] == "order")
    assert {"client_order_id", "side", "price", "amount", "status"} <= order.keys()
    state = next(e for e in events if e["kind"] == "state")
    assert {"from", "to", "reason"} <= state.keys()
    # virtual time: the run covers 600 s of event time
    assert 599 <= events[-1]["at"] - events[0]["at"] <= 605


def test_flash_crash_breach_is_recorded_and_nothing_stays_open(tmp_path: Path) -> None:
    events_out = tmp_path / "events.jsonl"
    proc = _run(
        "--config",
        str(EXAMPLE),
        "--scenario",
        "flash-crash",
        "--duration",
        "900",
        "--speed",
        "max",
        "--json",
        "--events-out",
        str(events_out),
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    breaches = out["risk"]["breaches"]
    assert breaches and {"rule", "value", "limit", "action", "at"} <= breaches[0].keys()
    assert out["volume"]["self_trades"] == 0 and out["self_trades"] == 0
    assert {"target", "done", "taker_trades", "self_trades"} <= out["volume"].keys()
    assert out["open_orders_after_stop"] == 0
    events = _events(events_out)
    first_breach = next(e for e in events if e["kind"] == "risk" and e.get("code") == "breach")
    assert first_breach["action"] in ("PAUSE", "STOP", "KILL") and "at" in first_breach
    # After the breach every own order is closed within a second of simulated time.
    live: dict[str, str] = {}
    for e in events:
        if e["kind"] == "order":
            if e["status"] in ("PENDING_NEW", "OPEN", "PARTIALLY_FILLED", "PENDING_CANCEL"):
                live[e["client_order_id"]] = e["status"]
            else:
                live.pop(e["client_order_id"], None)
        if e["at"] >= first_breach["at"] + 1 and e["seq"] > first_breach["seq"]:
            break
    assert live == {}


def test_unknown_scenario_is_a_usage_error() -> None:
    proc = _run(
        "--config",
        str(EXAMPLE),
        "--scenario",
        "nosuch",
        "--duration",
        "5",
        "--speed",
        "max",
        "--json",
    )
    assert proc.returncode == 2
    assert "--scenario" in proc.stderr and proc.stdout == ""
