"""Example tests of the grid strategy: the worked example of docs/strategy.md and edge cases."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from agent.config import Distribution, MarketMakingConfig
from agent.model import Inventory, MarketRules, Side
from agent.strategy import grid
from agent.strategy.grid import (
    DROP_BUDGET,
    DROP_ORDER_MAX,
    DROP_PRICE,
    GridInputs,
    GridStrategy,
    Ladder,
    compute_ladder,
    funding_warnings,
    level_weights,
    pick_spread_pct,
    skew_of,
)

RULES = MarketRules("BTC/USDT", "BTC", "USDT", D("0.01"), D("0.001"), D("5"))


def doc_config(**over: Any) -> MarketMakingConfig:
    """The config of the worked example in docs/strategy.md."""
    base: dict[str, Any] = dict(
        levels_up=3,
        levels_down=3,
        spread_min_pct=D("0.4"),
        spread_max_pct=D("2"),
        volatility_spread_factor=D(1),
        step_pct=D("0.25"),
        distribution=Distribution.VALLEY,
        budget_quote=D(600),
        budget_base=D(12),
        buy_order_min=D(10),
        buy_order_max=D(250),
        sell_order_min=D("0.1"),
        sell_order_max=D(5),
        skew_factor=D("0.5"),
        inventory_target_base_pct=D(50),
    )
    base.update(over)
    return MarketMakingConfig(**base)


def ladder_of(
    cfg: MarketMakingConfig,
    *,
    ref: str = "100.00",
    base: str = "15",
    quote: str = "500",
    vol: float = 0.2,
    bid: str | None = "99.95",
    ask: str | None = "100.05",
    rules: MarketRules = RULES,
    seed: int = 0,
) -> Ladder:
    return compute_ladder(
        GridInputs(
            cfg,
            D(ref),
            Inventory(base=D(base), quote=D(quote)),
            rules,
            vol,
            None if bid is None else D(bid),
            None if ask is None else D(ask),
            seed,
        )
    )


def rows(quotes: tuple[grid.Quote, ...]) -> list[tuple[int, str, str]]:
    return [(q.level, str(q.price), str(q.amount)) for q in quotes]


def test_worked_example_from_docs() -> None:
    lad = ladder_of(doc_config())
    assert lad.spread_pct == D("0.6")
    assert lad.skew == D("0.5")
    assert lad.center == D("99.925")
    assert rows(lad.bids) == [
        (0, "99.62", "1.882"),
        (1, "99.37", "1.257"),
        (2, "99.12", "0.630"),
    ]
    assert rows(lad.asks) == [
        (0, "100.23", "5.000"),
        (1, "100.48", "5.000"),
        (2, "100.73", "2.000"),
    ]
    assert lad.dropped == ()
    assert lad.budget_used() == (D("374.83853"), D("12"))
    assert [q.notional for q in lad.bids] == [D("187.48484"), D("124.90809"), D("62.44560")]


def test_post_only_clamp_and_collision_push_from_docs() -> None:
    lad = ladder_of(doc_config(), ask="99.38")
    assert [str(q.price) for q in lad.bids] == ["99.37", "99.36", "99.12"]
    # Without post-only the book is not consulted.
    free = ladder_of(doc_config(post_only=False), ask="99.38")
    assert [str(q.price) for q in free.bids] == ["99.62", "99.37", "99.12"]


def test_asks_clamped_above_best_bid_and_kept_distinct() -> None:
    cfg = doc_config(skew_factor=D(0))
    # Unclamped asks: 100.30, 100.55, 100.80; the best bid 100.55 pushes asks to >= 100.56.
    lad = ladder_of(cfg, bid="100.55", ask=None)
    assert [str(q.price) for q in lad.asks] == ["100.56", "100.57", "100.80"]


def test_crossed_book_still_gives_bids_below_asks() -> None:
    lad = ladder_of(doc_config(), bid="101.00", ask="99.00")
    assert lad.bids and lad.asks
    assert max(q.price for q in lad.bids) <= D("98.99")
    assert min(q.price for q in lad.asks) >= D("101.01")


def test_no_skew_when_inventory_on_target() -> None:
    lad = ladder_of(doc_config(), base="5", quote="500")  # 500 in base, 500 in quote
    assert lad.skew == 0
    assert lad.center == D("100.00")
    assert lad.bids[0].price == D("99.70")  # 100 * (1 - 0.003)
    assert lad.asks[0].price == D("100.30")


def test_skew_factor_zero_ignores_inventory() -> None:
    cfg = doc_config(skew_factor=D(0))
    a = ladder_of(cfg, base="100", quote="1000")
    b = ladder_of(cfg, base="12", quote="50000")
    assert (a.bids, a.asks, a.center, a.dropped) == (b.bids, b.asks, b.center, b.dropped)
    assert a.skew > 0 > b.skew


def test_skew_of_formula() -> None:
    cfg = doc_config(inventory_target_base_pct=D(20))
    price = D(100)
    assert skew_of(cfg, Inventory(base=D(2), quote=D(800)), price) == 0  # share 0.2
    assert skew_of(cfg, Inventory(base=D(6), quote=D(400)), price) == D("0.5")  # 0.6: .4/.8
    assert skew_of(cfg, Inventory(base=D(1), quote=D(900)), price) == D("-0.5")  # 0.1: -.1/.2
    assert skew_of(cfg, Inventory(base=D(10), quote=D(0)), price) == 1
    assert skew_of(cfg, Inventory(base=D(0), quote=D(10)), price) == -1
    # Degenerate targets do not divide by zero.
    all_base = doc_config(inventory_target_base_pct=D(100))
    assert skew_of(all_base, Inventory(base=D(10), quote=D(0)), price) == 0
    assert skew_of(all_base, Inventory(base=D(0), quote=D(10)), price) == -1
    no_base = doc_config(inventory_target_base_pct=D(0))
    assert skew_of(no_base, Inventory(base=D(0), quote=D(10)), price) == 0
    assert skew_of(no_base, Inventory(base=D(1), quote=D(0)), price) == 1


def test_pick_spread_pct_clamps_and_handles_odd_volatility() -> None:
    cfg = doc_config(volatility_spread_factor=D(2))
    assert pick_spread_pct(cfg, 0.0) == D("0.4")
    assert pick_spread_pct(cfg, 0.25) == D("0.9")
    assert pick_spread_pct(cfg, 5.0) == D("2")
    assert pick_spread_pct(cfg, -1.0) == D("0.4")
    assert pick_spread_pct(cfg, float("nan")) == D("2")
    assert pick_spread_pct(cfg, float("inf")) == D("2")
    assert pick_spread_pct(doc_config(volatility_spread_factor=D(0)), 3.0) == D("0.4")


def test_effective_budget_is_what_the_inventory_holds() -> None:
    lad = ladder_of(doc_config(), base="3", quote="100")
    quote_used, base_used = lad.budget_used()
    assert quote_used <= 100
    assert base_used <= 3
    assert base_used == 3  # targets exceed 3 in total, so the budget is used up


def test_budget_runs_out_outermost_first() -> None:
    # LINEAR, 5 levels, budget for three orders at the per-order minimum.
    cfg = doc_config(
        levels_down=5,
        distribution=Distribution.LINEAR,
        budget_quote=D(31),
        buy_order_min=D(10),
        skew_factor=D(0),
    )
    lad = ladder_of(cfg, quote="1000")
    assert [q.level for q in lad.bids] == [0, 1, 2]
    assert [(s, lv, r) for s, lv, r in lad.dropped if s is Side.BUY] == [
        (Side.BUY, 3, DROP_BUDGET),
        (Side.BUY, 4, DROP_BUDGET),
    ]
    assert all(D(10) <= q.notional <= D("10.5") for q in lad.bids)
    assert lad.budget_used()[0] <= 31


def test_min_notional_above_order_max_drops_with_reason() -> None:
    rules = MarketRules("BTC/USDT", "BTC", "USDT", D("0.01"), D("0.001"), D("300"))
    lad = ladder_of(doc_config(), rules=rules)
    assert lad.bids == ()
    assert {(s, r) for s, _, r in lad.dropped if s is Side.BUY} == {(Side.BUY, DROP_ORDER_MAX)}
    warnings = funding_warnings(doc_config(), rules, D(100))
    assert any(w.startswith("buy_order_max 250 cannot fund one buy order") for w in warnings)


def test_small_targets_are_raised_to_the_minimum_within_budget() -> None:
    # VALLEY targets of 2000 * (1..10)/55 quote, some below buy_order_min 50 -> raised to 50.
    cfg = doc_config(
        levels_down=10, budget_quote=D(2000), buy_order_min=D(50), buy_order_max=D(1000)
    )
    lad = ladder_of(cfg, quote="5000", base="50", vol=0.0)
    assert all(q.notional >= 50 for q in lad.bids)
    assert lad.budget_used()[0] <= 2000


def test_non_positive_bid_prices_are_dropped() -> None:
    cfg = doc_config(levels_down=5, step_pct=D(30), skew_factor=D(0))
    lad = ladder_of(cfg, quote="100000", vol=0.0)
    assert all(q.price > 0 for q in lad.bids)
    reasons = {lv: r for s, lv, r in lad.dropped if s is Side.BUY}
    assert reasons == {4: DROP_PRICE}  # 1 - 0.002 - 4 * 0.3 < 0


def test_coarse_tick_collisions_keep_distinct_prices() -> None:
    rules = MarketRules("X/USDT", "X", "USDT", D("1"), D("1"), D(0))
    cfg = doc_config(
        levels_up=5,
        levels_down=5,
        budget_base=D(100),
        sell_order_min=D(1),
        sell_order_max=D(100),
        buy_order_min=D(1),
        skew_factor=D(0),
    )
    lad = ladder_of(cfg, ref="10", base="1000", quote="1000", bid=None, ask=None, rules=rules)
    assert [q.price for q in lad.bids] == [D(9), D(8), D(7), D(6), D(5)]
    assert [q.price for q in lad.asks] == [D(11), D(12), D(13), D(14), D(15)]


def test_funding_warnings_name_the_numbers() -> None:
    rules = MarketRules("BTC/USDT", "BTC", "USDT", D("0.01"), D("0.001"), D("10"))
    cfg = doc_config(budget_quote=D(5), buy_order_min=D(1))
    (msg,) = funding_warnings(cfg, rules, D(100))
    assert msg.startswith("budget_quote 5 cannot fund one buy order")
    assert "needs 10" in msg and "min notional 10" in msg
    assert funding_warnings(doc_config(), RULES, D(100)) == []
    tiny_base = doc_config(budget_base=D("0.01"))
    (msg,) = funding_warnings(tiny_base, RULES, D(100))
    assert msg.startswith("budget_base 0.01 cannot fund one sell order")


def test_reference_price_must_be_positive() -> None:
    with pytest.raises(ValueError, match="reference_price"):
        ladder_of(doc_config(), ref="0")


def test_strategy_object_and_memo_agree_with_compute_ladder() -> None:
    cfg = doc_config()
    inv = Inventory(base=D(15), quote=D(500))
    s = GridStrategy(cfg, RULES)
    a = s.ladder(D(100), inv, 0.2, D("99.95"), D("100.05"))
    b = s.ladder(D(100), inv, 0.2, D("99.95"), D("100.05"))
    assert a is b  # unchanged inputs: the previous answer
    inv.quote = D(400)  # inventories are mutable: the memo must notice
    c = s.ladder(D(100), inv, 0.2, D("99.95"), D("100.05"))
    assert c != a
    assert c == compute_ladder(GridInputs(cfg, D(100), inv, RULES, 0.2, D("99.95"), D("100.05")))


def test_level_weights_shapes() -> None:
    assert level_weights(Distribution.LINEAR, 4) == (1, 1, 1, 1)
    assert level_weights(Distribution.VALLEY, 4) == (4, 3, 2, 1)
    assert level_weights(Distribution.VALLEY, 0) == ()
    r = level_weights(Distribution.RANDOM, 10, seed=7)
    assert all(5_000 <= w <= 15_000 for w in r)
    assert level_weights(Distribution.RANDOM, 12, seed=7)[:10] == r  # stable prefix
    assert level_weights(Distribution.RANDOM, 10, seed=8) != r


def test_random_distribution_is_stable_for_a_seed() -> None:
    cfg = doc_config(distribution=Distribution.RANDOM, levels_up=8, levels_down=8)
    kw: dict[str, Any] = dict(base="1000", quote="100000", seed=42)
    first = ladder_of(cfg, **kw)
    grid._CACHE.clear()
    grid._random_weights.cache_clear()
    again = ladder_of(cfg, **kw)
    assert first == again
    other = ladder_of(cfg, base="1000", quote="100000", seed=43)
    assert [q.amount for q in other.bids] != [q.amount for q in first.bids]


def test_empty_inventory_side_is_dropped_for_budget() -> None:
    lad = ladder_of(doc_config(), base="0", quote="500")
    assert lad.asks == ()
    assert [r for s, _, r in lad.dropped if s is Side.SELL] == [DROP_BUDGET] * 3


def test_hot_path_quotes_are_ordinary_quotes() -> None:
    q = ladder_of(doc_config()).bids[0]
    assert type(q) is grid.Quote
    assert q == grid.Quote(Side.BUY, D("99.62"), D("1.882"), 0)
    assert hash(q) == hash(grid.Quote(Side.BUY, D("99.62"), D("1.882"), 0))
    with pytest.raises(AttributeError):
        q.price = D(1)  # type: ignore[misc]
