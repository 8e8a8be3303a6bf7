"""Grid strategy: the desired ladder of maker quotes around a reference price.

Pure and deterministic: the same inputs (and RNG seed) always give the same ladder, so the
order manager only touches the venue when the market really moved. No I/O, no clock.

The ladder is recomputed on every book update, so the hot path works in integers: prices in
ticks, amounts in lots, buy notionals in units of ``tick * lot`` (the notional of one lot
priced one tick). Integer arithmetic is exact, so rounding decisions (bids down, asks up,
amounts floored, minimums rounded up) can never be undone by a binary float or by a Decimal
context. Everything derived from the config and the market rules is computed once per
``GridStrategy``. See docs/strategy.md for the rules in prose, with a worked example.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from agent.config import Distribution, MarketMakingConfig
from agent.model import Inventory, MarketRules, Side, slot_init

__all__ = [
    "DROP_BUDGET",
    "DROP_ORDER_MAX",
    "DROP_PRICE",
    "GridInputs",
    "GridStrategy",
    "Ladder",
    "Quote",
    "compute_ladder",
    "funding_warnings",
    "level_weights",
    "pick_spread_pct",
    "skew_of",
]

# Reasons a level is left out of the ladder (third item of ``Ladder.dropped``).
DROP_PRICE = "price"  # the level's price is not positive (deep bids on a wide grid)
DROP_BUDGET = "budget"  # what is left of the side's budget cannot fund the smallest valid order
DROP_ORDER_MAX = "order_max"  # the smallest valid order at this price exceeds the per-order max

_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)
_BUY = Side.BUY
_SELL = Side.SELL

# Volatility arrives as a float (it is statistics, not money); it is quantized to this many
# decimal places of %/min when it enters the Decimal world.
_VOL_DECIMALS = 6
_VOL_SCALE = 10**_VOL_DECIMALS
# RANDOM weights are integers in [_RANDOM_LO, _RANDOM_HI], i.e. [0.5, 1.5] in units of 1e-4.
_RANDOM_LO = 5_000
_RANDOM_HI = 15_000
# Decimal fixed point of the per-level arithmetic: values are integers in units of 1e-18, so
# a price that is exactly on a tick in Decimal is exactly on it here too (no binary scaling).
_FIX = 18
_SC = 10**_FIX
_SC2 = _SC * _SC
_NO_LIMIT = 1 << 256  # "no post-only limit": beyond any price in ticks
_CACHE_LEVEL_CALLS = 32  # quote cache size per side, in ladders' worth of distinct quotes


@slot_init  # built on the hot path (cache misses of the ladder): see agent.model.slot_init
@dataclass(frozen=True, slots=True)
class Quote:
    """One wanted order. ``level`` 0 is the innermost level of its side."""

    side: Side
    price: Decimal
    amount: Decimal
    level: int

    @property
    def notional(self) -> Decimal:
        return self.price * self.amount


@dataclass(frozen=True, slots=True)
class Ladder:
    """The desired book of the bot, plus the numbers that explain it."""

    bids: tuple[Quote, ...]  # best (highest) first
    asks: tuple[Quote, ...]  # best (lowest) first
    spread_pct: Decimal  # picked spread, before rounding to ticks
    center: Decimal  # skewed center price, before rounding
    skew: Decimal  # u in [-1, 1]: > 0 means more base than targeted
    dropped: tuple[tuple[Side, int, str], ...]  # (side, level, reason), see DROP_*

    def budget_used(self) -> tuple[Decimal, Decimal]:
        """(quote committed on bids, base committed on asks)."""
        quote = sum((q.price * q.amount for q in self.bids), _ZERO)
        base = sum((q.amount for q in self.asks), _ZERO)
        return quote, base


@dataclass(frozen=True, slots=True)
class GridInputs:
    """Everything the ladder depends on; nothing else is read."""

    config: MarketMakingConfig
    reference_price: Decimal
    inventory: Inventory  # totals, own locked funds included
    rules: MarketRules
    volatility_pct_per_min: float
    best_bid: Decimal | None
    best_ask: Decimal | None
    seed: int = 0


# ---------------------------------------------------------------- pure helpers


def _spread(lo: Decimal, hi: Decimal, factor: Decimal, vol: float) -> Decimal:
    if vol != vol or vol >= 1e9:  # NaN (unknown) or absurd: quote as wide as allowed
        return hi
    if vol <= 0.0:
        return lo
    # Volatility is statistics, not money: quantize it once as it enters the Decimal world.
    v = Decimal(round(vol * _VOL_SCALE)).scaleb(-_VOL_DECIMALS)
    s = lo + factor * v
    return hi if s > hi else s


def pick_spread_pct(cfg: MarketMakingConfig, volatility_pct_per_min: float) -> Decimal:
    """spread_pct = clamp(spread_min_pct + volatility_spread_factor * vol, min, max).

    ``vol`` is the realized volatility of the mid in % per minute. NaN (unknown) gives the
    maximum spread: quoting wide is the safe answer to not knowing.
    """
    return _spread(
        cfg.spread_min_pct, cfg.spread_max_pct, cfg.volatility_spread_factor, volatility_pct_per_min
    )


def _skew(target: Decimal, inventory: Inventory, price: Decimal) -> Decimal:
    share = inventory.base_share(price)
    if share < 0:
        share = _ZERO
    elif share > 1:
        share = _ONE
    d = share - target
    if d > 0:
        if target >= 1:
            return _ZERO
        u = d / (_ONE - target)
    elif d < 0:
        if target <= 0:
            return _ZERO
        u = d / target
    else:
        return _ZERO
    if u > 1:
        return _ONE
    if u < -1:
        return -_ONE
    return u


def skew_of(cfg: MarketMakingConfig, inventory: Inventory, price: Decimal) -> Decimal:
    """Normalized inventory deviation u in [-1, 1].

    d = base_share - t with t = inventory_target_base_pct / 100; u = d / (1 - t) when d > 0 and
    d / t when d < 0, so u = 1 means "everything in base" and u = -1 "everything in quote",
    whatever the target.
    """
    return _skew(cfg.inventory_target_base_pct / _HUNDRED, inventory, price)


@lru_cache(maxsize=256)
def _random_weights(seed: int, n: int, side: Side) -> tuple[int, ...]:
    # One stream per (seed, side): a level's weight does not depend on how many levels follow
    # it, and never changes between calls, so RANDOM does not make the bot churn orders.
    rng = random.Random(f"mmbot-grid:{seed}:{side.value}")
    return tuple(rng.randint(_RANDOM_LO, _RANDOM_HI) for _ in range(n))


def level_weights(
    distribution: Distribution, n: int, seed: int = 0, side: Side = Side.BUY
) -> tuple[int, ...]:
    """Integer size weights of levels 0..n-1 (innermost first), before skew and clipping.

    LINEAR: all 1. VALLEY: n, n-1, ..., 1 (linear decrease away from mid). RANDOM: integers in
    [5000, 15000] (weights 0.5..1.5 in units of 1e-4), stable for a given (seed, side).
    """
    if n <= 0:
        return ()
    if distribution is Distribution.LINEAR:
        return (1,) * n
    if distribution is Distribution.VALLEY:
        return tuple(range(n, 0, -1))
    return _random_weights(seed, n, side)


def _floor_div(a: Decimal, b: Decimal) -> int:
    """floor(a / b) for b > 0, exact: Decimal's divmod does not round the quotient."""
    q, r = divmod(a, b)
    return int(q) - 1 if r < 0 else int(q)


def _ceil_div(a: Decimal, b: Decimal) -> int:
    """ceil(a / b) for b > 0, exact."""
    q, r = divmod(a, b)
    return int(q) + 1 if r > 0 else int(q)


def _floor_fix(x: Decimal) -> int:
    """floor(x * 1e18) as an int; exact (scaleb only moves the exponent)."""
    v = x.scaleb(_FIX)
    i = int(v)  # truncates toward zero
    return i - 1 if i > v else i


def _ceil_fix(x: Decimal) -> int:
    """ceil(x * 1e18) as an int; exact."""
    v = x.scaleb(_FIX)
    i = int(v)
    return i + 1 if i < v else i


def _ceil_int(a: int, b: int) -> int:
    return -(-a // b)


# ---------------------------------------------------------------- the strategy


class _QuoteCache:
    """A bounded map (ticks, lots, level) -> Quote with first-in-first-out eviction."""

    __slots__ = ("_keys", "_map", "get")

    def __init__(self, size: int) -> None:
        self._map: dict[tuple[int, int, int], Quote] = {}
        self._keys: deque[tuple[int, int, int]] = deque(maxlen=max(size, 16))
        self.get = self._map.get

    def put(self, key: tuple[int, int, int], quote: Quote) -> Quote:
        keys = self._keys
        if len(keys) == keys.maxlen:
            self._map.pop(keys[0], None)  # the deque drops it on append
        keys.append(key)
        self._map[key] = quote
        return quote

    def __len__(self) -> int:
        return len(self._map)


class GridStrategy:
    """The grid for one (config, rules) pair, with everything derivable from them precomputed.

    Build it once and call ``ladder`` on every book update; ``compute_ladder`` does this for
    you with a small identity-keyed cache.
    """

    __slots__ = (
        "_ask_quotes",
        "_bid_quotes",
        "_budget_base",
        "_budget_quote",
        "_buy_lo_units",
        "_buy_max_units",
        "_buy_min_units",
        "_distribution",
        "_last",
        "_lot",
        "_min_amount_lots",
        "_min_notional_units",
        "_n_ask",
        "_n_bid",
        "_offsets_fp",
        "_post_only",
        "_sell_lo_lots",
        "_sell_max_lots",
        "_sell_min_lots",
        "_skew_factor",
        "_spread_factor",
        "_spread_max",
        "_spread_min",
        "_target",
        "_tick",
        "_unit",
        "_weights",
        "config",
        "rules",
    )

    def __init__(self, config: MarketMakingConfig, rules: MarketRules) -> None:
        if rules.tick_size <= 0 or rules.lot_size <= 0:
            raise ValueError("market rules need a positive tick_size and lot_size")
        self.config = config
        self.rules = rules
        c = config
        tick, lot = rules.tick_size, rules.lot_size
        unit = tick * lot  # notional of one lot at a price of one tick
        self._tick, self._lot, self._unit = tick, lot, unit
        self._n_bid = c.levels_down
        self._n_ask = c.levels_up
        self._spread_min = c.spread_min_pct
        self._spread_max = c.spread_max_pct
        self._spread_factor = c.volatility_spread_factor
        self._skew_factor = c.skew_factor
        self._target = c.inventory_target_base_pct / _HUNDRED
        self._post_only = c.post_only
        self._budget_quote = c.budget_quote
        self._budget_base = c.budget_base
        self._distribution = c.distribution
        # Level i sits i * step further out; as fixed-point integers so that placing a level is
        # two integer operations instead of Decimal arithmetic plus a conversion. Rounded up:
        # a larger offset moves both bids and asks away from the center (the safe direction).
        step = c.step_pct / _HUNDRED
        self._offsets_fp = tuple(_ceil_fix(step * i) for i in range(max(self._n_bid, self._n_ask)))
        # Per-order bounds, rounded so that staying inside them in integers keeps the Decimal
        # order inside the configured bounds: maxima floor, minima ceil.
        self._buy_max_units = _floor_div(c.buy_order_max, unit)
        self._buy_min_units = max(_ceil_div(c.buy_order_min, unit), 1)
        self._sell_max_lots = _floor_div(c.sell_order_max, lot)
        self._sell_min_lots = max(_ceil_div(c.sell_order_min, lot), 1)
        self._min_amount_lots = max(_ceil_div(rules.min_amount, lot), 1)
        self._min_notional_units = max(_ceil_div(rules.min_notional, unit), 0)
        # Lower bounds that do not depend on the price, merged once: a buy's notional (units)
        # must meet both the per-order and the venue minimum, a sell's amount (lots) both the
        # per-order minimum and the venue's min amount.
        self._buy_lo_units = max(self._buy_min_units, self._min_notional_units)
        self._sell_lo_lots = max(self._sell_min_lots, self._min_amount_lots)
        # Weights for LINEAR/VALLEY do not depend on the seed; RANDOM ones are per seed.
        self._weights: dict[int, tuple[tuple[int, ...], int, tuple[int, ...], int]] = {}
        # Quotes by (ticks, lots, level), oldest evicted first: the mid mostly moves back and
        # forth by a few ticks, so ladders repeat, and reusing the immutable Quote objects saves
        # building them (the bulk of the per-level cost). Eviction is one key per insert, so
        # there is never a burst of deallocations in the hot path.
        self._bid_quotes = _QuoteCache(_CACHE_LEVEL_CALLS * self._n_bid)
        self._ask_quotes = _QuoteCache(_CACHE_LEVEL_CALLS * self._n_ask)
        # The last call's inputs and answer: book updates that change neither the reference
        # nor the inventory nor the volatility (depth-only updates) cost one tuple comparison.
        self._last: tuple[tuple[object, ...], Ladder] | None = None

    def _weights_for(self, seed: int) -> tuple[tuple[int, ...], int, tuple[int, ...], int]:
        key = seed if self._distribution is Distribution.RANDOM else 0
        w = self._weights.get(key)
        if w is None:
            wb = level_weights(self._distribution, self._n_bid, key, _BUY)
            wa = level_weights(self._distribution, self._n_ask, key, _SELL)
            w = (wb, sum(wb), wa, sum(wa))
            if len(self._weights) >= 64:
                self._weights.clear()
            self._weights[key] = w
        return w

    def spread_pct(self, volatility_pct_per_min: float) -> Decimal:
        return _spread(
            self._spread_min, self._spread_max, self._spread_factor, volatility_pct_per_min
        )

    def skew(self, inventory: Inventory, price: Decimal) -> Decimal:
        return _skew(self._target, inventory, price)

    def ladder(
        self,
        reference_price: Decimal,
        inventory: Inventory,
        volatility_pct_per_min: float,
        best_bid: Decimal | None = None,
        best_ask: Decimal | None = None,
        seed: int = 0,
    ) -> Ladder:
        """The desired ladder. Raises ValueError on a non-positive reference price."""
        if not reference_price > 0:
            raise ValueError(f"reference_price must be > 0, got {reference_price}")
        args = (
            reference_price,
            inventory.base,
            inventory.quote,
            volatility_pct_per_min,
            best_bid,
            best_ask,
            seed,
        )
        last = self._last
        if last is not None and last[0] == args:
            return last[1]
        tick = self._tick
        spread_pct = self.spread_pct(volatility_pct_per_min)
        half = spread_pct / 200  # half the spread, as a fraction of the center
        u = _skew(self._target, inventory, reference_price)
        k = self._skew_factor
        if k and u:
            ku = k * u
            center = reference_price * (_ONE - ku * half)
            buy_mult = _ONE - ku
            sell_mult = _ONE + ku
        else:
            center = reference_price
            buy_mult = sell_mult = _ONE
        # Center in ticks, fixed point, rounded away from the touch per side: level prices are
        # then one integer product and division each, exact for exactly representable inputs.
        center_ticks = center / tick
        offsets = self._offsets_fp
        wb, wb_sum, wa, wa_sum = self._weights_for(seed)
        dropped: list[tuple[Side, int, str]] = []

        # ---- bids: ticks rounded down, clamped below best_ask, kept distinct; budget in units
        # of tick*lot, so a notional is exactly ticks * lots.
        n_bid = self._n_bid
        bids: list[Quote] = []
        if n_bid:
            unit = self._unit
            lot = self._lot
            c_fix = _floor_fix(center_ticks)
            inner = _floor_fix(_ONE - half)
            # Highest tick the next bid may take: one below the best ask (post-only), then one
            # below the level before it (distinct prices).
            limit = _NO_LIMIT
            if self._post_only and best_ask is not None:
                limit = _floor_div(best_ask, tick) - 1
            budget = inventory.quote
            if budget > self._budget_quote:
                budget = self._budget_quote
            if budget > 0:
                remaining = _floor_div(budget, unit)  # floor: never spend more than the budget
                scale = _floor_fix(buy_mult * budget / unit)  # skewed budget, units * 1e18
            else:
                remaining = scale = 0
            den = wb_sum * _SC
            max_units = self._buy_max_units
            lo_units = self._buy_lo_units
            min_lots = self._min_amount_lots
            reuse_get, reuse_put = self._bid_quotes.get, self._bid_quotes.put
            for i, (off, w) in enumerate(zip(offsets, wb, strict=False)):
                p = (c_fix * (inner - off)) // _SC2  # floor
                if p > limit:
                    p = limit
                limit = p - 1
                if p <= 0:
                    dropped.append((_BUY, i, DROP_PRICE))
                    continue
                lo = -(-lo_units // p)
                if lo < min_lots:
                    lo = min_lots
                hi = (remaining if remaining < max_units else max_units) // p
                if lo > hi:
                    reason = DROP_ORDER_MAX if lo > max_units // p else DROP_BUDGET
                    dropped.append((_BUY, i, reason))
                    continue
                lots = scale * w // den // p
                if lots < lo:
                    lots = lo
                elif lots > hi:
                    lots = hi
                remaining -= lots * p
                key = (p, lots, i)
                q = reuse_get(key)
                if q is None:
                    q = reuse_put(key, Quote(_BUY, tick * p, lot * lots, i))
                bids.append(q)

        # ---- asks: ticks rounded up, clamped above best_bid, kept distinct; budget in lots.
        n_ask = self._n_ask
        asks: list[Quote] = []
        if n_ask:
            lot = self._lot
            c_fix = _ceil_fix(center_ticks)
            inner = _ceil_fix(_ONE + half)
            # Lowest tick the next ask may take: one above the best bid (post-only), then one
            # above the level before it.
            limit = -_NO_LIMIT
            if self._post_only and best_bid is not None:
                limit = _ceil_div(best_bid, tick) + 1
            budget = inventory.base
            if budget > self._budget_base:
                budget = self._budget_base
            if budget > 0:
                remaining = _floor_div(budget, lot)
                scale = _floor_fix(sell_mult * budget / lot)  # skewed budget, lots * 1e18
            else:
                remaining = scale = 0
            den = wa_sum * _SC
            max_lots = self._sell_max_lots
            min_lots = self._sell_lo_lots
            mn_units = self._min_notional_units
            reuse_get, reuse_put = self._ask_quotes.get, self._ask_quotes.put
            for i, (off, w) in enumerate(zip(offsets, wa, strict=False)):
                p = -((-c_fix * (inner + off)) // _SC2)  # ceil
                if p < limit:
                    p = limit
                limit = p + 1
                lo = -(-mn_units // p)
                if lo < min_lots:
                    lo = min_lots
                hi = remaining if remaining < max_lots else max_lots
                if lo > hi:
                    dropped.append((_SELL, i, DROP_ORDER_MAX if lo > max_lots else DROP_BUDGET))
                    continue
                lots = scale * w // den
                if lots < lo:
                    lots = lo
                elif lots > hi:
                    lots = hi
                remaining -= lots
                key = (p, lots, i)
                q = reuse_get(key)
                if q is None:
                    q = reuse_put(key, Quote(_SELL, tick * p, lot * lots, i))
                asks.append(q)

        ladder = Ladder(tuple(bids), tuple(asks), spread_pct, center, u, tuple(dropped))
        self._last = (args, ladder)
        return ladder

    def funding_warnings(self, price: Decimal) -> list[str]:
        """Why a side cannot place even one order at ``price`` with the configured budget."""
        c, r = self.config, self.rules
        out: list[str] = []
        if price <= 0:
            return [f"price {price} must be > 0"]
        tick, lot = self._tick, self._lot
        if self._n_bid:
            p = _floor_div(price, tick)
            if p <= 0:
                out.append(f"price {price} is below one tick {tick}: no buy order can be priced")
            else:
                lots = max(
                    _ceil_int(self._buy_min_units, p),
                    self._min_amount_lots,
                    _ceil_int(self._min_notional_units, p),
                )
                need = tick * p * lot * lots  # smallest valid buy notional at this price
                what = _min_what(c.buy_order_min, r, tick * p)
                if lots * p > self._buy_max_units:
                    out.append(
                        f"buy_order_max {c.buy_order_max} cannot fund one buy order: the smallest "
                        f"valid one at price {tick * p} needs {need} quote ({what})"
                    )
                elif need > c.budget_quote:
                    out.append(
                        f"budget_quote {c.budget_quote} cannot fund one buy order: the smallest "
                        f"valid one at price {tick * p} needs {need} quote ({what})"
                    )
        if self._n_ask:
            p = _ceil_div(price, tick)
            lots = max(
                self._sell_min_lots, self._min_amount_lots, _ceil_int(self._min_notional_units, p)
            )
            need = lot * lots
            what = _min_what(c.sell_order_min * tick * p, r, tick * p)
            if lots > self._sell_max_lots:
                out.append(
                    f"sell_order_max {c.sell_order_max} cannot fund one sell order: the smallest "
                    f"valid one at price {tick * p} needs {need} base ({what})"
                )
            elif need > c.budget_base:
                out.append(
                    f"budget_base {c.budget_base} cannot fund one sell order: the smallest "
                    f"valid one at price {tick * p} needs {need} base ({what})"
                )
        return out


def _min_what(order_min_notional: Decimal, rules: MarketRules, price: Decimal) -> str:
    """Name the minimum that binds, so the message points at the number to change."""
    venue_notional = max(rules.min_notional, rules.min_amount * price)
    if venue_notional > order_min_notional:
        return (
            f"venue min notional {rules.min_notional}, min amount {rules.min_amount}, "
            f"lot {rules.lot_size}"
        )
    return f"per-order min, lot {rules.lot_size}"


# Strategies for the (config, rules) pairs seen recently, keyed by identity: configs and rules
# are immutable, and holding a reference keeps the id from being reused while cached.
_CACHE: dict[tuple[int, int], GridStrategy] = {}
_CACHE_MAX = 32


def _strategy(config: MarketMakingConfig, rules: MarketRules) -> GridStrategy:
    key = (id(config), id(rules))
    s = _CACHE.get(key)
    if s is None or s.config is not config or s.rules is not rules:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        s = _CACHE[key] = GridStrategy(config, rules)
    return s


def compute_ladder(inp: GridInputs) -> Ladder:
    """The desired ladder for ``inp``; pure, deterministic for a given seed.

    Derived values are cached per (config, rules) *object*: pass the same objects on every
    book update (as the bot does) rather than rebuilding them, or use ``GridStrategy``.
    """
    return _strategy(inp.config, inp.rules).ladder(
        inp.reference_price,
        inp.inventory,
        inp.volatility_pct_per_min,
        inp.best_bid,
        inp.best_ask,
        inp.seed,
    )


def funding_warnings(cfg: MarketMakingConfig, rules: MarketRules, price: Decimal) -> list[str]:
    """One message per side that cannot place even one order at ``price`` with its budget
    (the config validator cannot know the venue's minimums; this can)."""
    return _strategy(cfg, rules).funding_warnings(price)
