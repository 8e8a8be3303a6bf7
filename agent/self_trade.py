"""Self-trade prevention. Not configurable, by design (see README, "Volume and self-trading").

An order may never be sent if its price could reach one of the bot's own resting (or possibly
resting) orders on the other side. Callers skip or cancel first; they cannot opt out.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from agent.model import Side
from agent.orders import TERMINAL, TrackedOrder


def would_self_match(side: Side, price: Decimal, own_orders: Iterable[TrackedOrder]) -> bool:
    """True if an order (side, price) could trade against any non-terminal own order.

    Orders whose create outcome is unknown or whose cancel is pending count as resting: until
    the venue confirms otherwise they might be on the book.
    """
    for o in own_orders:
        if o.state in TERMINAL or o.side is side:
            continue
        if side is Side.BUY and price >= o.price:
            return True
        if side is Side.SELL and price <= o.price:
            return True
    return False


def crossing_limit(side: Side, own_orders: Iterable[TrackedOrder]) -> Decimal | None:
    """The price an order on `side` must stay strictly behind: lowest own ask for a buy,
    highest own bid for a sell; None when there is no own order on the other side."""
    prices = [o.price for o in own_orders if o.state not in TERMINAL and o.side is not side]
    if not prices:
        return None
    return min(prices) if side is Side.BUY else max(prices)
