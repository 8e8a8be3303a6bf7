"""Decision latency: from a book update reaching the bot to the venue actions being handed to
the venue adapter (ladder, diff against live orders, pre-trade and self-trade guards).

The bot trades on the simulated venue on the virtual clock, so market activity is realistic
(fills, partial fills, re-quotes); the latencies themselves are wall-clock (perf_counter).

    python -m benchmarks.engine [--seconds 600] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import platform
import statistics
from pathlib import Path

from agent.bot import Bot
from agent.clock import Clock, run
from agent.config import BotConfig, load_config
from agent.events import EventBus
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


def _pct(sorted_vals: list[float], q: float) -> float:
    idx = min(len(sorted_vals) - 1, max(0, round(q * (len(sorted_vals) - 1))))
    return sorted_vals[idx]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0, help="virtual seconds per case")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
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
