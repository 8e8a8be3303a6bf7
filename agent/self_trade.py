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


_BUY = Side.BUY  # a module constant: `Side.BUY` is a descriptor lookup in Python 3.11


class SelfTradeGuard:
    """`would_self_match` for a batch: the crossing limits are computed once, then kept up to
    date as orders of the batch are admitted (O(1) per order on the hot path)."""

    __slots__ = ("_hi_bid", "_lo_ask")

    def __init__(self, own_orders: Iterable[TrackedOrder]) -> None:
        hi_bid: Decimal | None = None
        lo_ask: Decimal | None = None
        terminal = TERMINAL
        buy = _BUY
        for o in own_orders:
            if o.state not in terminal:
                price = o.price
                if o.side is buy:
                    if hi_bid is None or price > hi_bid:
                        hi_bid = price
                elif lo_ask is None or price < lo_ask:
                    lo_ask = price
        self._hi_bid = hi_bid
        self._lo_ask = lo_ask

    def blocks(self, side: Side, price: Decimal) -> bool:
        if side is _BUY:
            return self._lo_ask is not None and price >= self._lo_ask
        return self._hi_bid is not None and price <= self._hi_bid

    def add(self, side: Side, price: Decimal) -> None:
        if side is _BUY:
            if self._hi_bid is None or price > self._hi_bid:
                self._hi_bid = price
        elif self._lo_ask is None or price < self._lo_ask:
            self._lo_ask = price
