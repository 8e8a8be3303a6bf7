"""Price sources, freshness, the price board, and the external feed over a fake venue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from agent.config import ExternalMarket, PriceSource, PricingConfig
from agent.model import (
    Balance,
    BookLevel,
    CancelResult,
    CreateResult,
    Fill,
    MarketRules,
    OrderBook,
    OrderRequest,
    PublicTrade,
    Side,
    VenueOrder,
)
from agent.orders import OrderState, TrackedOrder
from agent.pricing import (
    BookMid,
    ExternalFeed,
    ExternalPrice,
    LastTrade,
    MicroPrice,
    PriceBoard,
    PricePoint,
    own_levels,
    top_of_book,
)
from agent.venues.base import BookUpdate, StreamStatus, TradeUpdate, Venue, VenueEvent

D = Decimal
T0 = 1_767_603_600.0


def book(
    bids: list[tuple[str, str]], asks: list[tuple[str, str]], at: float = T0, symbol: str = "A/B"
) -> OrderBook:
    return OrderBook(
        symbol,
        tuple(BookLevel(D(p), D(a)) for p, a in bids),
        tuple(BookLevel(D(p), D(a)) for p, a in asks),
        at,
    )


BOOK = book([("0.99", "300"), ("0.98", "500")], [("1.01", "100"), ("1.02", "50")])


def test_book_mid_and_micro_price() -> None:
    mid, micro = BookMid(), MicroPrice()
    assert mid.current() is None and not mid.fresh(T0, 10)
    mid.update_book(BOOK)
    micro.update_book(BOOK)
    assert mid.current() == PricePoint(D(1), T0)
    # (0.99 * 100 + 1.01 * 300) / 400: little ask size pulls the price toward the ask
    assert micro.current() == PricePoint(D("1.005"), T0)


@given(
    bid=st.integers(1, 10_000),
    spread=st.integers(1, 500),
    bid_size=st.integers(1, 10**6),
    ask_size=st.integers(1, 10**6),
)
def test_micro_price_is_inside_the_spread(
    bid: int, spread: int, bid_size: int, ask_size: int
) -> None:
    b = D(bid) / 100
    a = D(bid + spread) / 100
    m = MicroPrice()
    m.update_book(book([(str(b), str(bid_size))], [(str(a), str(ask_size))]))
    p = m.current()
    assert p is not None and b <= p.price <= a
    assert (p.price > (a + b) / 2) == (bid_size > ask_size)


def test_own_orders_are_taken_out_of_the_book() -> None:
    own = [
        TrackedOrder("o1", "A/B", Side.BUY, D("0.99"), D(300), True, T0, OrderState.OPEN),
        TrackedOrder("o2", "A/B", Side.SELL, D("1.01"), D(40), True, T0, OrderState.OPEN),
        TrackedOrder("o3", "A/B", Side.SELL, D("1.02"), D(9), True, T0, OrderState.PENDING_NEW),
    ]
    levels = own_levels(own)
    assert levels == {(Side.BUY, D("0.99")): D(300), (Side.SELL, D("1.01")): D(40)}
    top = top_of_book(BOOK, levels)
    assert top is not None
    assert (top.bid, top.bid_size, top.ask, top.ask_size) == (D("0.98"), D(500), D("1.01"), D(60))
    m = BookMid()
    m.update_book(BOOK, own=levels)
    assert m.current() == PricePoint(D("0.995"), T0)
    # Only our own orders on one side: fall back to the full book.
    only_own = {(Side.BUY, D("0.99")): D(300), (Side.BUY, D("0.98")): D(500)}
    assert top_of_book(BOOK, only_own) == top_of_book(BOOK)


def test_one_sided_book_keeps_the_last_price_which_ages() -> None:
    m = BookMid()
    m.update_book(BOOK)
    m.update_book(book([("0.99", "1")], [], at=T0 + 5))
    assert m.current() == PricePoint(D(1), T0)
    assert m.fresh(T0 + 10, 10) and not m.fresh(T0 + 10.5, 10)


def test_updates_never_go_back_in_time() -> None:
    m = BookMid()
    m.update_book(BOOK, at=T0 + 5)
    m.update_book(book([("0.5", "1")], [("0.6", "1")]), at=T0 + 1)
    assert m.current() == PricePoint(D(1), T0 + 5)


def test_last_trade_and_external() -> None:
    last, ext = LastTrade(), ExternalPrice()
    last.update_book(BOOK)  # books do not move a last-trade price
    assert last.current() is None
    last.update_trade(PublicTrade("A/B", D("1.003"), D(5), Side.BUY, T0 + 1))
    assert last.current() == PricePoint(D("1.003"), T0 + 1)
    ext.update_trade(PublicTrade("X/Y", D(7), D(1), Side.BUY, T0))
    assert ext.current() is None
    ext.update_book(book([("2.00", "1")], [("2.02", "1")], symbol="X/Y"), at=T0 + 2)
    assert ext.current() == PricePoint(D("2.01"), T0 + 2)


def test_board_answers_per_config_and_never_returns_stale() -> None:
    cfg = PricingConfig(
        source=PriceSource.MICRO,
        risk_reference=PriceSource.EXTERNAL,
        external=ExternalMarket(venue="gate", symbol="X/Y"),
        max_age_seconds=D(10),
    )
    board = PriceBoard(cfg)
    assert board.quote_price(T0) is None and board.risk_reference(T0) is None
    board.on_event(BookUpdate(BOOK))
    board.on_event(TradeUpdate(PublicTrade("A/B", D("1.004"), D(1), Side.SELL, T0)))
    board.on_event(StreamStatus("book", False))  # ignored
    board.on_external_book(book([("0.97", "1")], [("0.99", "1")], symbol="X/Y"), at=T0 + 3)
    assert board.quote_price(T0 + 1) == PricePoint(D("1.005"), T0)
    assert board.risk_reference(T0 + 1) == PricePoint(D("0.98"), T0 + 3)
    assert board.price(PriceSource.LAST_TRADE, T0) == PricePoint(D("1.004"), T0)
    assert board.price(PriceSource.MID, T0) == PricePoint(D(1), T0)
    assert board.quote_price(T0 + 10.01) is None  # stale
    assert board.risk_reference(T0 + 13) is not None
    assert board.risk_reference(T0 + 13.01) is None
    status = {s.source: s for s in board.status(T0 + 12)}
    assert status[PriceSource.EXTERNAL].fresh and not status[PriceSource.MID].fresh
    assert status[PriceSource.MID].price == D(1)
    assert board.source(PriceSource.MICRO) is board.micro


class _FakeVenue(Venue):
    """Only the stream is real: it yields what the test scripted."""

    name = "fake"

    def __init__(self, events: list[VenueEvent]) -> None:
        super().__init__()
        self.events = events
        self.streamed: list[str] = []

    async def stream(self, symbol: str) -> AsyncIterator[VenueEvent]:
        self.streamed.append(symbol)
        for ev in self.events:
            await asyncio.sleep(0)
            yield ev

    async def start(self) -> None:
        raise AssertionError("not used")

    async def close(self) -> None:
        raise AssertionError("not used")

    async def market_rules(self, symbol: str) -> MarketRules:
        raise AssertionError("not used")

    async def fetch_balances(self) -> dict[str, Balance]:
        raise AssertionError("not used")

    async def fetch_order_book(self, symbol: str, depth: int = 50) -> OrderBook:
        raise AssertionError("not used")

    async def create_orders(self, requests: list[OrderRequest]) -> list[CreateResult]:
        raise AssertionError("not used")

    async def cancel_orders(self, symbol: str, orders: list[tuple[str, str]]) -> list[CancelResult]:
        raise AssertionError("not used")

    async def cancel_all(self, symbol: str) -> list[CancelResult]:
        raise AssertionError("not used")

    async def fetch_open_orders(self, symbol: str) -> list[VenueOrder]:
        raise AssertionError("not used")

    async def fetch_order(self, symbol: str, client_order_id: str) -> VenueOrder | None:
        raise AssertionError("not used")

    async def fetch_fills(self, symbol: str, since: float) -> list[Fill]:
        raise AssertionError("not used")


async def test_external_feed_feeds_the_board() -> None:
    events: list[VenueEvent] = [
        BookUpdate(book([("1.98", "1")], [("2.02", "1")], at=T0, symbol="X/Y")),
        TradeUpdate(PublicTrade("X/Y", D(5), D(1), Side.BUY, T0 + 1)),
        BookUpdate(book([("9", "1")], [("10", "1")], at=T0 + 2, symbol="OTHER/Y")),
        StreamStatus("book", False, "gone"),
        BookUpdate(book([("2.00", "1")], [("2.04", "1")], at=T0 + 3, symbol="X/Y")),
    ]
    venue = _FakeVenue(events)
    cfg = PricingConfig(
        risk_reference=PriceSource.EXTERNAL, external=ExternalMarket(venue="fake", symbol="X/Y")
    )
    board = PriceBoard(cfg)
    feed = ExternalFeed(venue, "X/Y", board)
    await asyncio.wait_for(feed.run(), timeout=5)
    assert venue.streamed == ["X/Y"]
    assert feed.books == 2
    assert board.risk_reference(T0 + 4) == PricePoint(D("2.02"), T0 + 3)
    assert board.quote_price(T0 + 4) is None  # the own market has not been fed


async def test_external_feed_stamps_receive_time_when_given_a_clock() -> None:
    venue = _FakeVenue([BookUpdate(book([("1", "1")], [("3", "1")], at=0.0, symbol="X/Y"))])
    board = PriceBoard(PricingConfig())
    await ExternalFeed(venue, "X/Y", board, now=lambda: T0 + 7).run()
    assert board.external.current() == PricePoint(D(2), T0 + 7)
