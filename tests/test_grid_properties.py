"""Property tests of the grid strategy: the invariants of docs/strategy.md on random inputs."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from agent.config import Distribution, MarketMakingConfig
from agent.model import Inventory, MarketRules, Side
from agent.strategy.grid import (
    DROP_BUDGET,
    DROP_ORDER_MAX,
    DROP_PRICE,
    GridInputs,
    Ladder,
    compute_ladder,
    level_weights,
    skew_of,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def dec(lo: int, hi: int, places: int = 2) -> st.SearchStrategy[D]:
    """Decimals in [lo, hi] with `places` decimal places."""
    scale = 10**places
    return st.integers(lo * scale, hi * scale).map(lambda n: D(n).scaleb(-places))


@st.composite
def markets(draw: st.DrawFn, venue_minimums: bool = True) -> tuple[MarketRules, D]:
    """A market and a reference price at realistic relative scales: the price is 10 to 10^6
    ticks (coarse to fine grids), one lot is worth 0.001 to 10 quote."""
    tick = D(1).scaleb(draw(st.integers(-8, 2)))
    ticks = draw(
        st.integers(1, 6).flatmap(lambda d: st.integers(10 ** (d - 1) * 10, 10 ** (d + 1)))
    )
    ref = tick * ticks + draw(st.sampled_from([D(0), D(0), tick / 3]))
    lot = D(1).scaleb(draw(st.integers(-3, 1)) - ref.adjusted())
    rules = MarketRules(
        "B/Q",
        "B",
        "Q",
        tick,
        lot,
        min_notional=draw(st.sampled_from([D(0), D(1), D(5), D(10)])) if venue_minimums else D(0),
        min_amount=draw(st.sampled_from([D(0), lot, lot * 7])) if venue_minimums else D(0),
    )
    return rules, ref


@st.composite
def configs(draw: st.DrawFn, price: D, **fixed: Any) -> MarketMakingConfig:
    """Configs sized in quote value, so sells make sense at any price; budgets range from
    "not even one order" to "every level at the per-order max"."""
    smin = draw(dec(0, 3)) + D("0.01")
    buy_min = draw(dec(1, 100))
    sell_min_value = draw(dec(1, 100))
    fields: dict[str, Any] = dict(
        levels_up=draw(st.integers(0, 12)),
        levels_down=draw(st.integers(0, 12)),
        spread_min_pct=smin,
        spread_max_pct=smin + draw(dec(0, 5)),
        step_pct=draw(st.one_of(dec(0, 1), dec(0, 20))) + D("0.01"),
        budget_quote=buy_min * draw(dec(0, 40)),
        budget_base=sell_min_value * draw(dec(0, 40)) / price,
        buy_order_min=buy_min,
        buy_order_max=buy_min * draw(dec(1, 10)),
        sell_order_min=sell_min_value / price,
        sell_order_max=sell_min_value * draw(dec(1, 10)) / price,
        distribution=draw(st.sampled_from(list(Distribution))),
        skew_factor=draw(dec(0, 1)),
        inventory_target_base_pct=draw(dec(0, 100)),
        post_only=draw(st.booleans()),
        volatility_spread_factor=draw(dec(0, 10)),
    )
    fields.update(fixed)
    try:
        return MarketMakingConfig(**fields)
    except ValidationError:
        assume(False)
        raise


volatilities = st.one_of(
    st.floats(0, 5, allow_nan=False), st.just(float("nan")), st.floats(-1, 0), st.just(1e12)
)


@st.composite
def books(draw: st.DrawFn, rules: MarketRules, ref: D) -> tuple[D | None, D | None]:
    """Best prices within a few % of the reference, crossed books included."""
    t = rules.tick_size

    def side(sign: int) -> D | None:
        if draw(st.integers(0, 4)) == 0:
            return None
        p = rules.floor_price(ref * (1 + sign * draw(dec(-2, 4)) / 100))
        return p if p > 0 else t

    return side(-1), side(1)


@st.composite
def grid_inputs(draw: st.DrawFn, venue_minimums: bool = True, **fixed: Any) -> GridInputs:
    rules, ref = draw(markets(venue_minimums))
    cfg = draw(configs(ref, **fixed))
    inv = Inventory(
        base=cfg.budget_base * draw(dec(0, 3)) + draw(dec(0, 100)) / ref,
        quote=cfg.budget_quote * draw(dec(0, 3)) + draw(dec(0, 100)),
    )
    bid, ask = draw(books(rules, ref))
    return GridInputs(cfg, ref, inv, rules, draw(volatilities), bid, ask, draw(st.integers(0, 9)))


def check_invariants(inp: GridInputs, lad: Ladder) -> None:
    cfg, rules, inv = inp.config, inp.rules, inp.inventory
    tick = rules.tick_size
    # Budgets: never more than the side's effective budget.
    quote_used, base_used = lad.budget_used()
    assert quote_used <= min(cfg.budget_quote, max(inv.quote, D(0)))
    assert base_used <= min(cfg.budget_base, max(inv.base, D(0)))
    # Every order within its per-order bounds and the venue's rules.
    for q in lad.bids:
        assert q.side is Side.BUY
        assert cfg.buy_order_min <= q.price * q.amount <= cfg.buy_order_max
        assert rules.fits(q.price, q.amount)
    for q in lad.asks:
        assert q.side is Side.SELL
        assert cfg.sell_order_min <= q.amount <= cfg.sell_order_max
        assert rules.fits(q.price, q.amount)
    # Ordering: best first, distinct prices, all bids strictly below all asks.
    assert all(a.price > b.price for a, b in pairwise(lad.bids))
    assert all(a.price < b.price for a, b in pairwise(lad.asks))
    if lad.bids and lad.asks:
        assert lad.bids[0].price < lad.asks[0].price
    # Post-only: never cross or touch the opposite best.
    if cfg.post_only:
        if inp.best_ask is not None:
            assert all(q.price <= inp.best_ask - tick for q in lad.bids)
        if inp.best_bid is not None:
            assert all(q.price >= inp.best_bid + tick for q in lad.asks)
    # Spread picked within bounds; rounding and clamps only move quotes outward.
    assert cfg.spread_min_pct <= lad.spread_pct <= cfg.spread_max_pct
    s = lad.spread_pct / 100
    step = cfg.step_pct / 100
    eps = tick * D("1e-9")
    for q in lad.bids:
        assert q.price <= lad.center * (1 - s / 2 - q.level * step) + eps
    for q in lad.asks:
        assert q.price >= lad.center * (1 + s / 2 + q.level * step) - eps
    if lad.bids and lad.asks and lad.bids[0].level == 0 == lad.asks[0].level:
        assert lad.asks[0].price - lad.bids[0].price >= lad.center * s - 2 * eps
    assert -1 <= lad.skew <= 1
    # Placed and dropped levels partition 0..n-1 per side, levels increase outward.
    for side, quotes, n in (
        (Side.BUY, lad.bids, cfg.levels_down),
        (Side.SELL, lad.asks, cfg.levels_up),
    ):
        placed = [q.level for q in quotes]
        assert placed == sorted(placed)
        gone = [lv for sd, lv, _ in lad.dropped if sd is side]
        assert sorted(placed + gone) == list(range(n))
    assert {r for _, _, r in lad.dropped} <= {DROP_PRICE, DROP_BUDGET, DROP_ORDER_MAX}


@SETTINGS
@given(grid_inputs())
def test_ladder_invariants(inp: GridInputs) -> None:
    lad = compute_ladder(inp)
    check_invariants(inp, lad)
    assert compute_ladder(inp) == lad  # deterministic


@SETTINGS
@given(grid_inputs(post_only=True))
def test_post_only_ladder_invariants(inp: GridInputs) -> None:
    check_invariants(inp, compute_ladder(inp))


@st.composite
def skew_pairs(draw: st.DrawFn, **fixed: Any) -> tuple[GridInputs, GridInputs]:
    """Two inputs that differ only in inventory, both holding at least the budgets (so the
    effective budgets are the configured ones and only the skew differs)."""
    inp = draw(grid_inputs(**fixed))
    cfg, ref = inp.config, inp.reference_price

    def inventory() -> Inventory:
        return Inventory(
            base=cfg.budget_base + draw(dec(0, 20000)) / ref,
            quote=cfg.budget_quote + draw(dec(0, 20000)),
        )

    return replace(inp, inventory=inventory()), replace(inp, inventory=inventory())


@SETTINGS
@given(skew_pairs())
def test_skew_is_monotone_in_inventory_deviation(pair: tuple[GridInputs, GridInputs]) -> None:
    a, b = (compute_ladder(x) for x in pair)
    if a.skew > b.skew:
        a, b = b, a
    lot = pair[0].rules.lot_size
    # More base (higher u): every quote at or below where it was, center too.
    assert b.center <= a.center
    assert b.spread_pct == a.spread_pct
    for lo_side, hi_side in ((a.bids, b.bids), (a.asks, b.asks)):
        by_level = {q.level: q for q in lo_side}
        for q in hi_side:
            if q.level in by_level:
                assert q.price <= by_level[q.level].price
    # ... the innermost sell at least as big, the innermost buy (in quote) no bigger, up to
    # the one lot that flooring to the lot can add or remove.
    if a.asks and b.asks and a.asks[0].level == 0 == b.asks[0].level:
        assert b.asks[0].amount >= a.asks[0].amount
    if a.bids and b.bids and a.bids[0].level == 0 == b.bids[0].level:
        assert b.bids[0].notional <= a.bids[0].notional + a.bids[0].price * lot


@SETTINGS
@given(skew_pairs(skew_factor=D(0)))
def test_zero_skew_factor_ignores_inventory(pair: tuple[GridInputs, GridInputs]) -> None:
    a, b = (compute_ladder(x) for x in pair)
    assert (a.bids, a.asks, a.center, a.spread_pct, a.dropped) == (
        b.bids,
        b.asks,
        b.center,
        b.spread_pct,
        b.dropped,
    )


@SETTINGS
@given(
    target=dec(0, 100),
    price=dec(1, 1000),
    quote=dec(0, 10000),
    bases=st.lists(dec(0, 100), min_size=2, max_size=6),
)
def test_skew_of_is_monotone_and_bounded(target: D, price: D, quote: D, bases: list[D]) -> None:
    cfg = MarketMakingConfig(inventory_target_base_pct=target)
    us = [skew_of(cfg, Inventory(base=b, quote=quote), price) for b in sorted(bases)]
    assert all(-1 <= u <= 1 for u in us)
    assert us == sorted(us)


@SETTINGS
@given(n=st.integers(0, 100), seed=st.integers(0, 2**32))
def test_distribution_shapes(n: int, seed: int) -> None:
    assert level_weights(Distribution.LINEAR, n) == (1,) * n
    valley = level_weights(Distribution.VALLEY, n)
    assert all(x > y for x, y in pairwise(valley))
    rnd = level_weights(Distribution.RANDOM, n, seed)
    assert len(rnd) == n and all(5_000 <= w <= 15_000 for w in rnd)
    assert level_weights(Distribution.RANDOM, n, seed) == rnd
    assert level_weights(Distribution.RANDOM, n + 3, seed)[:n] == rnd


@SETTINGS
@given(grid_inputs(distribution=Distribution.VALLEY))
def test_valley_sells_do_not_grow_away_from_mid(inp: GridInputs) -> None:
    amounts = [q.amount for q in compute_ladder(inp).asks]
    assert all(x >= y for x, y in pairwise(amounts))


@SETTINGS
@given(grid_inputs(venue_minimums=False, distribution=Distribution.LINEAR))
def test_linear_sells_are_equal_but_the_budget_trimmed_last(inp: GridInputs) -> None:
    # Without venue minimums (which raise inner sells more than outer ones, as their price is
    # lower) every LINEAR sell has the same size, except the last one trimmed to the budget.
    amounts = [q.amount for q in compute_ladder(inp).asks]
    assert len(set(amounts[:-1])) <= 1
    if len(amounts) >= 2:
        assert amounts[-1] <= amounts[0]


@SETTINGS
@given(grid_inputs(distribution=Distribution.RANDOM))
def test_random_is_stable_across_calls(inp: GridInputs) -> None:
    first = compute_ladder(inp)
    # A fresh, equal config (a new object: nothing cached for it) gives the same ladder.
    fresh = replace(inp, config=MarketMakingConfig(**inp.config.model_dump()))
    assert compute_ladder(fresh) == first
