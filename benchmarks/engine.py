"""Decision latency: from a book update reaching the bot to the venue actions being handed to
the venue adapter (ladder, diff against live orders, pre-trade and self-trade guards).

The bot trades on the simulated venue on the virtual clock, so market activity is realistic
(fills, partial fills, re-quotes); the latencies themselves are wall-clock (perf_counter).

    python -m benchmarks.engine [--seconds 600] [--seed 1]

`--replacements N` runs a fixed workload instead: N full-ladder replacements (2x10) in a row,
each the book moving by 0.2 % (beyond the refresh tolerance) and back, so every decision cancels
and re-creates the whole ladder. Deterministic (virtual clock, fixed seed), so it can be run
under `valgrind --tool=callgrind` to count instructions whatever the machine's load; the
difference between two values of N, divided by their difference, is the cost of one decision.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import platform
import statistics
import time
from decimal import Decimal
from pathlib import Path

from agent.bot import Bot
from agent.clock import Clock, run
from agent.config import BotConfig, load_config
from agent.events import Event, EventBus
from agent.model import BookLevel, OrderBook
from agent.orders import OrderState
from agent.venues.sim import SimVenue, load_scenario

ROOT = Path(__file__).resolve().parent.parent


def _config(levels: int) -> BotConfig:
    base = load_config(ROOT / "examples" / "ushark.yaml")
    mm = base.market_making.model_copy(
        update={
            "levels_up": levels,
            "levels_down": levels,
            "step_pct": base.market_making.step_pct * 10 / levels,
            "buy_order_min": base.market_making.buy_order_min * 10 / levels,
            "sell_order_min": base.market_making.sell_order_min * 10 / levels,
        }
    )
    return base.model_copy(update={"market_making": mm})


async def _measure(levels: int, seconds: float, seed: int) -> list[float]:
    clock = Clock(asyncio.get_running_loop(), 1_800_000_000.0)
    bus = EventBus(clock.now)
    venue = SimVenue(load_scenario("calm"), seed=seed, clock=clock)
    bot = Bot(_config(levels), venue, bus, clock, seed=seed, record_latency=True)
    await venue.start()
    await bot.start()
    gc.collect()
    gc.freeze()  # start-up objects out of the collector's way, as a long-running agent does
    await asyncio.sleep(seconds)
    await bot.stop("benchmark done")
    await bot.close()
    await venue.close()
    gc.unfreeze()
    assert bot.latencies_us is not None
    return bot.latencies_us


def _shifted(book: OrderBook, factor: Decimal, tick: Decimal) -> OrderBook:
    def level(lvl: BookLevel) -> BookLevel:
        return BookLevel((lvl.price * factor).quantize(tick), lvl.amount)

    return OrderBook(
        book.symbol,
        tuple(level(b) for b in book.bids),
        tuple(level(a) for a in book.asks),
        book.at,
        book.seq,
    )


async def _replacements(n: int, seed: int) -> tuple[list[float], list[int]]:
    """N decisions that each replace the whole 2x10 ladder: (latencies in us, actions each)."""
    clock = Clock(asyncio.get_running_loop(), 1_800_000_000.0)
    bus = EventBus(clock.now)
    events: list[Event] = []
    bus.subscribe(events.append)  # a subscriber, as the agent always has one
    venue = SimVenue(load_scenario("calm"), seed=seed, clock=clock)
    bot = Bot(_config(10), venue, bus, clock, seed=seed)
    await venue.start()
    await bot.start()
    await asyncio.sleep(30.0)  # a realistic state: ladder placed, some fills
    while bot._sync_task is not None and not bot._sync_task.done():
        await asyncio.sleep(0.01)
    om, base, rules = bot.om, bot.book, bot.rules
    assert om is not None and base is not None and rules is not None
    books = [_shifted(base, Decimal(f), rules.tick_size) for f in ("1.002", "0.998")]
    latencies: list[float] = []
    actions: list[int] = []
    gc.collect()
    # Synchronous from here on: no other task runs, so nothing but these decisions happens.
    for i in range(n):
        bot._on_book(books[i % 2])
        t0 = time.perf_counter()
        bot.requote()
        latencies.append((time.perf_counter() - t0) * 1e6)
        task = bot._sync_task
        if task is not None:  # the venue never sees these orders ...
            task.cancel()
            bot._sync_task = None
        count = 0
        for o in list(om.orders.values()):  # ... and its answers are applied directly
            if o.state is OrderState.PENDING_NEW:
                o.state = OrderState.OPEN
                count += 1
            elif o.state is OrderState.PENDING_CANCEL:
                del om.orders[o.client_order_id]
                count += 1
        om.version += 1
        actions.append(count)
        events.clear()
    await bot.stop("benchmark done")
    await bot.close()
    await venue.close()
    return latencies, actions


def _pct(sorted_vals: list[float], q: float) -> float:
    idx = min(len(sorted_vals) - 1, max(0, round(q * (len(sorted_vals) - 1))))
    return sorted_vals[idx]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0, help="virtual seconds per case")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--replacements",
        type=int,
        default=None,
        metavar="N",
        help="fixed workload: N full-ladder replacements (2x10) instead of the market run",
    )
    args = ap.parse_args()
    if args.replacements is not None:
        lat, actions = run(_replacements(args.replacements, args.seed), virtual=True)
        lat.sort()
        result = {
            "benchmark": "engine.full_replacement",
            "decisions": len(lat),
            "python": platform.python_version(),
        }
        if lat:
            result.update(
                actions_per_decision=statistics.median(actions),
                p50_us=round(_pct(lat, 0.50), 1),
                p99_us=round(_pct(lat, 0.99), 1),
                max_us=round(lat[-1], 1),
            )
        print(json.dumps(result, indent=2))
        return
    cases = []
    for levels in (10, 50):
        gc.collect()
        lat = sorted(run(_measure(levels, args.seconds, args.seed), virtual=True))
        cases.append(
            {
                "levels": f"2x{levels}",
                "p50_us": round(_pct(lat, 0.50), 1),
                "p99_us": round(_pct(lat, 0.99), 1),
                "max_us": round(lat[-1], 1),
                "mean_us": round(statistics.fmean(lat), 1),
                "samples": len(lat),
            }
        )
    out = {
        "benchmark": "engine.decision_latency",
        "virtual_seconds_per_case": args.seconds,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cases": cases,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
