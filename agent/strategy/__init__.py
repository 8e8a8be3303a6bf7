"""Strategies: pure functions from market state to the orders the bot wants (no I/O)."""

from agent.strategy.grid import (
    GridInputs,
    GridStrategy,
    Ladder,
    Quote,
    compute_ladder,
    funding_warnings,
    pick_spread_pct,
    skew_of,
)
from agent.strategy.volatility import RollingVolatility

__all__ = [
    "GridInputs",
    "GridStrategy",
    "Ladder",
    "Quote",
    "RollingVolatility",
    "compute_ladder",
    "funding_warnings",
    "pick_spread_pct",
    "skew_of",
]
