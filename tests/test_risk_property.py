"""Randomized property test: many short seeded simulator runs with random configs, scenarios and
faults. At no point may a limit be exceeded, and every breach leaves zero open orders.

MMBOT_RISK_RUNS sets the number of runs (default 1000); MMBOT_RISK_SECONDS the virtual length of
each run (default 15). Runs are spread over the machine's cores.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from typing import Any

from agent.bot import Bot
from agent.config import ExecutionMode
from agent.events import Event, EventBus, EventKind
from agent.model import Side
from agent.orders import TERMINAL
from agent.venues.sim import SimVenue, load_scenario
from agent.venues.sim.scenarios import Shock
from tests.simrun import example_config, run_bot, venue_open_ids

RUNS = int(os.environ.get("MMBOT_RISK_RUNS", "1000"))
SECONDS = float(os.environ.get("MMBOT_RISK_SECONDS", "15"))
FAILED_CANCEL = ("cancel_failed", "cancel_all_failed", "confirm_failed", "cancel_timeout")
SCENARIOS = ("calm", "volatile", "trending", "thin-book", "flash-crash")


def _one_run(seed: int) -> list[str]:
    """One randomized run; returns the violations found (empty when every property held)."""
    rng = random.Random(seed)
    name = rng.choice(SCENARIOS)
    scenario = load_scenario(name)
    if name == "flash-crash":  # bring the crash into the short run
        scenario = scenario.model_copy(
            update={
                "shocks": [
                    Shock(
                        at_seconds=rng.uniform(2, SECONDS / 2),
                        move_pct=-20,
                        duration_seconds=rng.uniform(3, 15),
                    )
                ]
            }
        )
    levels = rng.randint(1, 12)
    cfg = example_config(
        market_making={
            "levels_up": levels,
            "levels_down": rng.randint(1, 12),
            "skew_factor": Decimal(rng.choice(["0", "0.5", "1"])),
        },
        risk={
            "max_open_orders": rng.randint(3, 30),
            "min_quote_balance": Decimal(rng.choice([0, 100, 3000, 4600, 4990])),
            "max_price_deviation_pct": Decimal(rng.choice(["1", "2", "5", "10"])),
            "stale_data_seconds": Decimal(rng.choice(["2", "5", "10"])),
            "max_api_errors_per_minute": rng.randint(2, 20),
            "max_rejects_per_minute": rng.randint(2, 10),
            "auto_resume_after_seconds": rng.choice([0, 3, 10]),
            "max_daily_loss": Decimal(rng.choice(["1", "10", "50"])),
        },
        volume={
            "enabled": rng.random() < 0.5,
            "daily_notional": Decimal(200000),
            "max_daily_notional": Decimal(300000),
            "trade_min": Decimal(10),
            "trade_max": Decimal(80),
            "execution_mode": rng.choice(list(ExecutionMode)),
        },
    )
    risk = cfg.risk
    violations: list[str] = []
    failures: list[float] = []

    def attach(bus: EventBus, bot: Bot, venue: SimVenue) -> None:
        def on_event(ev: Event) -> None:
            if ev.kind is EventKind.ORDER and ev.data["status"] == "PENDING_NEW":
                om = bot.om
                assert om is not None
                n = sum(1 for o in om.active() if o.state not in TERMINAL)
                if n > risk.max_open_orders:
                    violations.append(f"{n} open orders > {risk.max_open_orders}")
                if ev.data["side"] == Side.BUY.value:
                    free = bot.ledger.quote - om.locked()[0]
                    if free < risk.min_quote_balance:
                        violations.append(f"free quote {free} < {risk.min_quote_balance}")
                ref = bot.prices.risk_reference(bot.clock.now())
                price = ev.data["price"]
                if ref is None:
                    violations.append("order sent without a fresh reference price")
                elif abs(price - ref.price) > ref.price * risk.max_price_deviation_pct / 100:
                    violations.append(f"price {price} outside the band around {ref.price}")
            elif ev.kind is EventKind.ERROR and ev.data["code"] in FAILED_CANCEL:
                failures.append(ev.at)
            elif ev.kind is EventKind.RISK and ev.data.get("code") == "breach":
                # Within 1 s the bot must be flat, unless the venue failed our cancels; then
                # it keeps trying and must be flat within a retry period of the recovery.
                def check(at: float = ev.at, waited: float = 1.0) -> None:
                    if bot.state.value == "RUNNING" or not venue_open_ids(venue):
                        return
                    # the bot retries every 2 s: flat within 4 s of the venue's last failure
                    retrying = failures and failures[-1] >= at - 0.5
                    if retrying and bot.clock.now() - failures[-1] < 4.0 and waited < 30:
                        loop = asyncio.get_running_loop()
                        loop.call_later(1.0, check, at, waited + 1.0)
                        return
                    violations.append(f"orders still open {waited:.0f} s after breach at {at}")

                asyncio.get_running_loop().call_later(1.0, check)

        bus.subscribe(on_event)

    async def body(bot: Bot, venue: SimVenue, events: list[Event]) -> None:
        frng = random.Random(seed * 31 + 7)
        elapsed = 0.0
        while elapsed < SECONDS:
            step = frng.uniform(1, 5)
            await asyncio.sleep(step)
            elapsed += step
            roll = frng.random()
            if roll < 0.1:
                venue.faults.fail_next_calls = frng.randint(1, 10)
            elif roll < 0.15:
                venue.faults.reject_next_creates = frng.randint(1, 10)
            elif roll < 0.2:
                venue.faults.timeout_next_creates = frng.randint(1, 2)
            elif roll < 0.25:
                venue.faults.stall_market_data = not venue.faults.stall_market_data
        await asyncio.sleep(1.5)  # let the last breach checks fire

    _, venue, _ = run_bot(body, scenario=scenario, config=cfg, seed=seed, on_bus=attach)
    if venue.self_trades:
        violations.append(f"{venue.self_trades} self-trades")
    return [f"seed {seed} ({name}): {v}" for v in violations]


def test_no_limit_is_ever_exceeded_over_many_seeded_runs() -> None:
    workers = max(1, min(4, os.cpu_count() or 1))
    # spawn, not fork: the test process may already run threads (gRPC, loggers) whose state a
    # forked child would inherit half-way
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        results: list[Any] = list(pool.map(_one_run, range(RUNS), chunksize=25))
    violations = [v for r in results for v in r]
    assert violations == [], violations[:20]
