"""`mmbot agent run`: one bot on one venue for a while, with a live status line and a summary."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from agent.bot import Bot
from agent.clock import Clock
from agent.config import BotConfig, ConfigError
from agent.events import EventBus, JsonLinesSink
from agent.lifecycle import BotState
from agent.model import ZERO
from agent.venues.base import Venue, VenueError


class VenueUnavailable(Exception):
    """The venue cannot be used (bad credentials, unreachable): exit 1 with the reason."""


@dataclass
class RunOptions:
    venue: str = "sim"
    scenario: str = "calm"
    seed: int = 0
    duration: float | None = None
    virtual: bool = False
    json: bool = False
    events_out: Path | None = None
    start_at: float | None = None
    status_every: float = 1.0
    status_stream: TextIO = field(default_factory=lambda: sys.stdout)


def make_reference_venue(config: BotConfig, opts: RunOptions, clock: Clock) -> Venue | None:
    """The venue of `pricing.external`, read-only. On the simulator the reference market runs
    the same scenario and seed in its own engine: the same market without our orders."""
    ext = config.pricing.external
    if ext is None:
        return None
    if ext.venue != "sim":
        raise ConfigError([f"pricing.external.venue: {ext.venue!r} is not available here"])
    from agent.venues.sim import SimVenue, load_scenario

    scenario = load_scenario(opts.scenario)
    if scenario.market.symbol != ext.symbol:
        raise ConfigError(
            [f"pricing.external.symbol: the simulator trades {scenario.market.symbol} only"]
        )
    return SimVenue(scenario, seed=opts.seed, clock=clock, account="reference")


def make_venue(config: BotConfig, opts: RunOptions, clock: Clock) -> Venue:
    name = opts.venue or config.bot.venue
    if name == "sim":
        from agent.venues.sim import SimVenue, load_scenario

        try:
            scenario = load_scenario(opts.scenario)
        except ConfigError as exc:
            raise ConfigError([f"--scenario {line}" for line in exc.errors]) from None
        except (ValueError, OSError) as exc:
            raise ConfigError([f"--scenario: {exc}"]) from None
        return SimVenue(scenario, seed=opts.seed, clock=clock)
    if opts.virtual:
        raise ConfigError(["--speed: live venues run in real time; use --speed realtime"])
    import ccxt

    if name not in ccxt.exchanges:
        raise ConfigError([f"--venue: {name!r} is neither 'sim' nor a ccxt exchange id"])
    from agent.venues.ccxt_venue import make_ccxt_venue

    return make_ccxt_venue(config, name, clock=clock, seed=opts.seed)


async def run_bot(
    config: BotConfig,
    opts: RunOptions,
    *,
    on_ready: Callable[[Bot], None] | None = None,
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    clock = Clock(loop, opts.start_at)
    bus = EventBus(clock.now)
    events_file = None
    if opts.events_out is not None:
        events_file = opts.events_out.open("w", encoding="utf-8")
        bus.subscribe(JsonLinesSink(events_file), durable=True)
    venue = make_venue(config, opts, clock)
    reference = make_reference_venue(config, opts, clock)
    bot = Bot(config, venue, bus, clock, seed=opts.seed)
    bot.external_venue = reference
    stop_requested = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop_requested.set)
    status_task = None
    try:
        try:
            await venue.start()
        except VenueError as exc:
            raise VenueUnavailable(f"{venue.name}: {exc.message or exc.code.value}") from None
        problems = venue.check_config(config)
        if problems:
            raise ConfigError(problems)
        if reference is not None:
            await reference.start()
        await bot.start()
        if on_ready is not None:
            on_ready(bot)
        if not opts.json:
            status_task = asyncio.create_task(_status_lines(bot, opts))
        waiters = [
            asyncio.create_task(stop_requested.wait()),
            asyncio.create_task(bot.wait_stopped()),
        ]
        if opts.duration is not None:
            waiters.append(asyncio.create_task(asyncio.sleep(opts.duration)))
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for w in waiters:
            w.cancel()
        before_stop = open_orders(bot)
        if bot.state not in (BotState.STOPPED,):
            await bot.stop("end of run")
        return summary(bot, venue, before_stop)
    finally:
        if status_task is not None:
            status_task.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        await bot.close()
        await venue.close()
        if reference is not None:
            await reference.close()
        if events_file is not None:
            events_file.close()


def open_orders(bot: Bot) -> list[dict[str, Any]]:
    if bot.om is None:
        return []
    return [
        {
            "side": o.side.value,
            "price": o.price,
            "amount": o.amount,
            "filled": o.filled,
            "post_only": o.post_only,
            "client_order_id": o.client_order_id,
            "status": o.state.value,
        }
        for o in sorted(bot.om.active(), key=lambda o: (o.side.value, o.price))
        if o.live
    ]


def summary(bot: Bot, venue: Venue, before_stop: list[dict[str, Any]]) -> dict[str, Any]:
    led = bot.ledger
    mid = bot.mid or ZERO
    risk = bot.risk_report()
    volume = bot.volume.progress() if bot.volume is not None else {}
    rules = bot.rules
    stats = bot.om.stats if bot.om is not None else {}
    balances: dict[str, dict[str, Decimal]] = {
        led.base_asset: {"total": led.base, "start": led.base_start},
        led.quote_asset: {"total": led.quote, "start": led.quote_start},
    }
    return {
        "state": bot.state.value,
        "state_reason": bot.state_reason,
        "venue": venue.name,
        "symbol": bot.symbol,
        "mid": bot.mid,
        "market": {
            "tick_size": rules.tick_size if rules else None,
            "lot_size": rules.lot_size if rules else None,
            "min_notional": rules.min_notional if rules else None,
        },
        "open_orders_before_stop": before_stop,
        "open_orders_after_stop": len(open_orders(bot)),
        "orders_placed": stats.get("orders_placed", 0),
        "orders_canceled": stats.get("orders_canceled", 0),
        "orders_rejected": stats.get("rejects", 0),
        "fills": led.fills,
        "volume_quote": led.volume_quote,
        "maker_volume_quote": led.maker_volume_quote,
        "taker_volume_quote": led.taker_volume_quote,
        "fees_quote": led.fees_quote,
        "pnl_quote": led.pnl(mid),
        "balances": balances,
        "self_trades": getattr(venue, "self_trades", None),
        "quote_uptime_pct": round(bot.uptime.pct, 3),
        "venue_calls": dict(sorted(venue.calls.items())),
        "risk": {
            "status": risk["status"],
            "rules": risk["rules"],
            "breaches": [
                {k: b[k] for k in ("rule", "value", "limit", "action", "at")}
                for b in risk["breaches"]
            ],
        },
        "volume": {
            "enabled": bot.config.volume.enabled,
            "target": bot.config.volume.daily_notional,
            "done": volume.get("done", ZERO),
            "taker_trades": volume.get("taker_trades", 0),
            "maker_trades": volume.get("maker_trades", 0),
            "self_trades": getattr(venue, "self_trades", None),
            "disabled_reason": volume.get("disabled_reason", ""),
        },
    }


async def _status_lines(bot: Bot, opts: RunOptions) -> None:
    out = opts.status_stream
    while True:
        await asyncio.sleep(opts.status_every)
        out.write(status_line(bot) + "\n")
        out.flush()


def status_line(bot: Bot) -> str:
    f = bot.status_fields()
    at = datetime.fromtimestamp(bot.clock.now(), UTC).strftime("%H:%M:%S")
    spread = f["spread"]
    spread_pct = f"{(spread / f['mid'] * 100):.2f}%" if spread is not None and f["mid"] else "-"
    return (
        f"{at} {bot.name} {f['state']:<8} mid {f['mid'] or '-'} spread {spread_pct} "
        f"orders {f['open_bids']}b/{f['open_asks']}a "
        f"inv {f['base']:.0f} {bot.ledger.base_asset} {f['quote']:.2f} {bot.ledger.quote_asset} "
        f"pnl {f['pnl_quote']:+.4f} fills {f['fills']} vol {f['volume_quote']:.2f}"
    )
