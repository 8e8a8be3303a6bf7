"""The synthetic market around the bot: a fair-price process, liquidity providers and takers.

Each actor is an asyncio task that sleeps for random (exponential) intervals and then acts on
the matching engine through its own account, exactly as a bot would. Only `asyncio.sleep` and
`Clock` are used for time, so the market runs in real time for a demo and at full speed on a
virtual-time loop in tests. Every random draw comes from `random.Random` streams derived from
the seed (one per actor), so a seed and a scenario give the same event sequence on a virtual
clock, and one actor's draws do not shift another's.

Third-party accounts hold effectively unlimited balances: their job is to provide depth and
flow, not to run out of money. Liquidity providers only ever post (post-only) and takers only
send IOC orders, so third parties never trade with themselves and the engine's self-trade
count reflects the bot alone.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any

from agent.clock import Clock
from agent.model import Side, TimeInForce
from agent.venues.sim.engine import MatchingEngine
from agent.venues.sim.scenarios import LiquidityProvider, Scenario, Shock

THIRD_PARTY_BALANCE = Decimal(10) ** 12
TAKER_ACCOUNT = "takers"


class SyntheticMarket:
    """Moves the fair price and trades third-party accounts against `engine`."""

    def __init__(self, engine: MatchingEngine, scenario: Scenario, *, seed: int, clock: Clock):
        self.engine = engine
        self.scenario = scenario
        self.clock = clock
        self.rules = engine.rules
        self.stats: Counter[str] = Counter()
        self.regime = 0
        self._price_rng = random.Random(f"{seed}:price")
        self._taker_rng = random.Random(f"{seed}:takers")
        self._lp_rngs = {
            lp.name: random.Random(f"{seed}:lp:{lp.name}") for lp in scenario.liquidity_providers
        }
        self._p0 = float(scenario.market.initial_price)
        self._tick = float(self.rules.tick_size)
        self._lot = float(self.rules.lot_size)
        self._log_walk = 0.0
        self._log_shock = 0.0
        self._t0 = 0.0
        self._seq = 0
        self._quoted_at: dict[str, float] = {}  # LP name -> fair price of its last quotes
        self._tasks: list[asyncio.Task[None]] = []

    # ----------------------------------------------------------------- views

    @property
    def fair(self) -> float:
        """The fair price the third parties believe in (float: a model quantity, not money)."""
        return self._p0 * math.exp(self._log_walk + self._log_shock)

    @property
    def elapsed(self) -> float:
        return self.clock.monotonic() - self._t0

    @property
    def regime_name(self) -> str:
        return self.scenario.price.regimes[self.regime].name

    # ----------------------------------------------------------------- lifecycle

    def setup(self) -> None:
        """Open the third-party accounts and put the first quotes in the book."""
        self._t0 = self.clock.monotonic()
        unlimited = {self.rules.base: THIRD_PARTY_BALANCE, self.rules.quote: THIRD_PARTY_BALANCE}
        for lp in self.scenario.liquidity_providers:
            self.engine.add_account(lp.name, dict(unlimited))
        self.engine.add_account(TAKER_ACCOUNT, dict(unlimited))
        for lp in self.scenario.liquidity_providers:
            self._requote(lp)

    def start(self) -> None:
        self._spawn(self._run_price())
        for lp in self.scenario.liquidity_providers:
            self._spawn(self._run_lp(lp))
        self._spawn(self._run_takers())

    async def stop(self) -> None:
        """Stop every actor; re-raise the first actor crash so bugs do not pass silently."""
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for r in results:
            if isinstance(r, Exception):
                raise r

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(coro))

    # ----------------------------------------------------------------- fair price

    async def _run_price(self) -> None:
        dt = self.scenario.price.step_seconds
        while True:
            await asyncio.sleep(dt)
            self.step_price(dt)
            fair = self.fair
            for lp in self.scenario.liquidity_providers:
                if abs(fair / self._quoted_at[lp.name] - 1) * 100 >= lp.requote_move_pct:
                    self._requote(lp)
                    self.stats["lp_move_requotes"] += 1

    def step_price(self, dt: float) -> None:
        """Advance the fair price by `dt` seconds: regime switch, diffusion, jump, shocks."""
        p = self.scenario.price
        rng = self._price_rng
        regime = p.regimes[self.regime]
        if len(p.regimes) > 1 and rng.random() < 1 - math.exp(-dt / regime.mean_duration_seconds):
            others = [i for i in range(len(p.regimes)) if i != self.regime]
            self.regime = rng.choice(others)
            self.stats["regime_switches"] += 1
            regime = p.regimes[self.regime]
        sigma = regime.volatility_pct / 100
        drift = p.drift_pct_per_hour / 100 / 3600
        self._log_walk += drift * dt + sigma * math.sqrt(dt) * rng.gauss(0.0, 1.0)
        if p.jump_rate_per_hour > 0 and rng.random() < 1 - math.exp(
            -p.jump_rate_per_hour / 3600 * dt
        ):
            self._log_walk += rng.gauss(0.0, p.jump_size_pct / 100)
            self.stats["jumps"] += 1
        self._log_shock = sum(_shock_log(s, self.elapsed) for s in self.scenario.shocks)
        # never let the walk reach a price below a few ticks, where the grid stops making sense
        floor = math.log(20 * self._tick / self._p0)
        if self._log_walk + self._log_shock < floor:
            self._log_walk = floor - self._log_shock

    # ----------------------------------------------------------------- liquidity providers

    async def _run_lp(self, lp: LiquidityProvider) -> None:
        rng = self._lp_rngs[lp.name]
        while True:
            await asyncio.sleep(rng.expovariate(1 / lp.refresh_seconds))
            self._requote(lp)

    def _requote(self, lp: LiquidityProvider) -> None:
        """Replace the LP's ladder with a fresh one around the current fair price."""
        rng = self._lp_rngs[lp.name]
        now = self.clock.now()
        self.engine.cancel_all(lp.name, now=now)
        fair = self._quoted_at[lp.name] = self.fair
        lo, hi = float(lp.notional_min), float(lp.notional_max)
        for i in range(lp.levels):
            offset = (lp.distance_pct + i * lp.step_pct) / 100
            for side in (Side.BUY, Side.SELL):
                notional = rng.uniform(lo, hi)
                if side is Side.BUY:
                    ticks = math.floor(fair * (1 - offset) / self._tick)
                else:
                    ticks = math.ceil(fair * (1 + offset) / self._tick)
                if ticks < 1:
                    continue
                price = self.rules.tick_size * ticks
                amount = self._amount_for(notional, price)
                res = self.engine.submit(
                    lp.name,
                    self._next_cid(lp.name),
                    side,
                    price,
                    amount,
                    TimeInForce.POST_ONLY,
                    now,
                )
                self.stats["lp_orders" if res.ok else "lp_rejects"] += 1
        self.stats["lp_refreshes"] += 1

    # ----------------------------------------------------------------- takers

    async def _run_takers(self) -> None:
        t = self.scenario.takers
        rng = self._taker_rng
        while True:
            rate = t.rate_per_second * self.scenario.price.regimes[self.regime].activity
            if rate <= 0:
                await asyncio.sleep(self.scenario.price.step_seconds)
                continue
            await asyncio.sleep(rng.expovariate(rate))
            self.take()

    def take(self) -> None:
        """One third-party IOC order, leaning toward the fair price (see `Takers`)."""
        t = self.scenario.takers
        rng = self._taker_rng
        bid, ask = self.engine.best_bid, self.engine.best_ask
        fair = self.fair
        u_side = rng.random()
        notional = min(
            float(t.notional_max),
            float(t.notional_median) * math.exp(t.notional_sigma * rng.gauss(0.0, 1.0)),
        )
        mid = float((bid + ask) / 2) if bid is not None and ask is not None else fair
        dev_pct = (fair - mid) / mid * 100
        p_buy = min(0.95, max(0.05, 0.5 + t.fair_pull * dev_pct))
        slip = t.slippage_pct / 100
        if u_side < p_buy:
            if ask is None:
                return
            side = Side.BUY
            limit = self.rules.tick_size * math.ceil(
                max(float(ask), fair) * (1 + slip) / self._tick
            )
            amount = self._amount_for(notional, ask, at_least_at=limit)
        else:
            if bid is None:
                return
            side = Side.SELL
            ticks = math.floor(min(float(bid), fair) * (1 - slip) / self._tick)
            limit = self.rules.tick_size * max(1, ticks)
            amount = self._amount_for(notional, bid, at_least_at=limit)
        res = self.engine.submit(
            TAKER_ACCOUNT,
            self._next_cid("t"),
            side,
            limit,
            amount,
            TimeInForce.IOC,
            self.clock.now(),
        )
        self.stats["taker_orders"] += 1
        self.stats["taker_trades"] += len(res.trades)

    # ----------------------------------------------------------------- helpers

    def _amount_for(
        self, notional: float, price: Decimal, at_least_at: Decimal | None = None
    ) -> Decimal:
        """Lots worth about `notional` at `price`, but never below the market's minimums
        (checked at `at_least_at` too, the limit price the engine validates against)."""
        lot = self.rules.lot_size
        lots = max(1, math.floor(notional / float(price) / self._lot))
        amount = lot * lots
        check = min(price, at_least_at) if at_least_at is not None else price
        if check * amount < self.rules.min_notional or amount < self.rules.min_amount:
            need = max(self.rules.min_notional / check, self.rules.min_amount)
            amount = lot * math.ceil(need / lot)
        return amount

    def _next_cid(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}-{self._seq}"


def _shock_log(shock: Shock, elapsed: float) -> float:
    """Log-price offset of one scheduled shock at `elapsed` seconds after start."""
    e = elapsed - shock.at_seconds
    if e <= 0:
        return 0.0
    size = math.log(1 + shock.move_pct / 100)
    if e < shock.duration_seconds:
        return size * e / shock.duration_seconds
    e -= shock.duration_seconds
    if e < shock.recover_seconds:
        return size * (1 - shock.recover_fraction * e / shock.recover_seconds)
    return size * (1 - shock.recover_fraction)
