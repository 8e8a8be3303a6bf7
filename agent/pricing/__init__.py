"""Reference prices with freshness (own mid, micro-price, last trade, external market)."""

from agent.pricing.feed import ExternalFeed
from agent.pricing.sources import (
    BookMid,
    ExternalPrice,
    LastTrade,
    MicroPrice,
    PriceBoard,
    PricePoint,
    PriceStatus,
    Source,
    TopOfBook,
    own_levels,
    top_of_book,
)

__all__ = [
    "BookMid",
    "ExternalFeed",
    "ExternalPrice",
    "LastTrade",
    "MicroPrice",
    "PriceBoard",
    "PricePoint",
    "PriceStatus",
    "Source",
    "TopOfBook",
    "own_levels",
    "top_of_book",
]
