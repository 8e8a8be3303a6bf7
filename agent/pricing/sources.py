"""Reference prices: own book mid, micro-price, last trade and an external market.

Every price carries the time it was last confirmed, so a consumer can refuse to act on a price
that is too old (the grid does not quote around it, the risk band does not trust it). Sources
are fed by the bot (its own market) and by `ExternalFeed` (the external market); they never read
a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from agent.config import PriceSource, PricingConfig
from agent.model import ZERO, BookLevel, OrderBook, PublicTrade, Side
from agent.orders import TrackedOrder
from agent.venues.base import BookUpdate, TradeUpdate, VenueEvent

OwnLevels = Mapping[tuple[Side, Decimal], Decimal]


@dataclass(frozen=True, slots=True)
class PricePoint:
    price: Decimal
    at: float  # epoch seconds when this price was last confirmed by market data

    def age(self, now: float) -> float:
        return now - self.at

    def fresh(self, now: float, max_age: float) -> bool:
        return now - self.at <= max_age


@dataclass(frozen=True, slots=True)
class TopOfBook:
    bid: Decimal
    bid_size: Decimal
    ask: Decimal
    ask_size: Decimal

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2


def own_levels(orders: Iterable[TrackedOrder]) -> dict[tuple[Side, Decimal], Decimal]:
    """Remaining size of the bot's resting orders per (side, price), to take them out of the
    book: a price derived from our own quotes would chase itself."""
    out: dict[tuple[Side, Decimal], Decimal] = {}
    for o in orders:
        if o.live:
            key = (o.side, o.price)
            out[key] = out.get(key, ZERO) + o.remaining
    return out


def _first_foreign(
    levels: tuple[BookLevel, ...], own: OwnLevels, side: Side
) -> tuple[Decimal, Decimal] | None:
    for lvl in levels:
        size = lvl.amount - own.get((side, lvl.price), ZERO)
        if size > 0:
            return lvl.price, size
    return None


def top_of_book(book: OrderBook, own: OwnLevels | None = None) -> TopOfBook | None:
    """Best bid/ask with their sizes, own orders taken out when `own` is given. Falls back to
    the full book when others quote only one side (or the rest looks crossed); None when the
    book itself is one-sided."""
    if not book.bids or not book.asks:
        return None
    if own:
        bid = _first_foreign(book.bids, own, Side.BUY)
        ask = _first_foreign(book.asks, own, Side.SELL)
        if bid is not None and ask is not None and bid[0] < ask[0]:
            return TopOfBook(bid[0], bid[1], ask[0], ask[1])
    b, a = book.bids[0], book.asks[0]
    return TopOfBook(b.price, b.amount, a.price, a.amount)


class Source:
    """One price with its freshness. Updates older than the current point are ignored, so the
    freshness time never goes backwards."""

    kind: ClassVar[PriceSource]

    def __init__(self) -> None:
        self._point: PricePoint | None = None

    def update_book(
        self, book: OrderBook, at: float | None = None, own: OwnLevels | None = None
    ) -> None:
        """Feed a book of the market (`at` overrides the book's own timestamp, e.g. with the
        local receive time). Sources that are not book-driven ignore it."""

    def update_trade(self, trade: PublicTrade) -> None:
        """Feed a public trade. Sources that are not trade-driven ignore it."""

    def current(self) -> PricePoint | None:
        return self._point

    def fresh(self, now: float, max_age: float) -> bool:
        p = self._point
        return p is not None and p.fresh(now, max_age)

    def fresh_point(self, now: float, max_age: float) -> PricePoint | None:
        p = self._point
        return p if p is not None and p.fresh(now, max_age) else None

    def _set(self, price: Decimal, at: float) -> None:
        if price <= 0:
            return
        p = self._point
        if p is None or at >= p.at:
            self._point = PricePoint(price, at)


class BookMid(Source):
    """(best bid + best ask) / 2 of the bot's market, own orders excluded."""

    kind = PriceSource.MID

    def update_book(
        self, book: OrderBook, at: float | None = None, own: OwnLevels | None = None
    ) -> None:
        top = top_of_book(book, own)
        if top is not None:
            self._set(top.mid, book.at if at is None else at)


class MicroPrice(Source):
    """Size-weighted top of book: (bid*ask_size + ask*bid_size) / (bid_size + ask_size).

    Leans toward the side with less size, i.e. where the price is more likely to go next."""

    kind = PriceSource.MICRO

    def update_book(
        self, book: OrderBook, at: float | None = None, own: OwnLevels | None = None
    ) -> None:
        top = top_of_book(book, own)
        if top is None:
            return
        total = top.bid_size + top.ask_size
        price = top.mid if total <= 0 else (top.bid * top.ask_size + top.ask * top.bid_size) / total
        self._set(price, book.at if at is None else at)


class LastTrade(Source):
    """Price of the latest public trade of the bot's market."""

    kind = PriceSource.LAST_TRADE

    def update_trade(self, trade: PublicTrade) -> None:
        self._set(trade.price, trade.at)


class ExternalPrice(Source):
    """Mid of another market (another venue or symbol, read through the same venue layer): the
    'master' price of a later master/slave setup."""

    kind = PriceSource.EXTERNAL

    def update_book(
        self, book: OrderBook, at: float | None = None, own: OwnLevels | None = None
    ) -> None:
        top = top_of_book(book, own)
        if top is not None:
            self._set(top.mid, book.at if at is None else at)


@dataclass(frozen=True, slots=True)
class PriceStatus:
    source: PriceSource
    price: Decimal | None
    at: float | None
    fresh: bool


class PriceBoard:
    """All price sources of one bot, and the answer to "which price do we use" per the
    `pricing:` config. A stale price is never returned: callers get None and must not quote
    (or must treat the band as unknown)."""

    def __init__(self, cfg: PricingConfig) -> None:
        self.cfg = cfg
        self.max_age = float(cfg.max_age_seconds)
        self.mid = BookMid()
        self.micro = MicroPrice()
        self.last = LastTrade()
        self.external = ExternalPrice()
        self._by_kind: dict[PriceSource, Source] = {
            s.kind: s for s in (self.mid, self.micro, self.last, self.external)
        }

    def on_book(
        self, book: OrderBook, at: float | None = None, own: OwnLevels | None = None
    ) -> None:
        """A book of the bot's own market; `own` takes the bot's resting orders out of it."""
        self.mid.update_book(book, at, own)
        self.micro.update_book(book, at, own)

    def on_trade(self, trade: PublicTrade) -> None:
        """A public trade of the bot's own market."""
        self.last.update_trade(trade)

    def on_event(
        self, ev: VenueEvent, at: float | None = None, own: OwnLevels | None = None
    ) -> None:
        """Route one event of the bot's own market stream; others are ignored."""
        if isinstance(ev, BookUpdate):
            self.on_book(ev.book, at, own)
        elif isinstance(ev, TradeUpdate):
            self.on_trade(ev.trade)

    def on_external_book(self, book: OrderBook, at: float | None = None) -> None:
        self.external.update_book(book, at)

    def source(self, kind: PriceSource) -> Source:
        return self._by_kind[kind]

    def price(self, kind: PriceSource, now: float) -> PricePoint | None:
        """The fresh price of one source (age <= max_age_seconds), else None."""
        return self._by_kind[kind].fresh_point(now, self.max_age)

    def quote_price(self, now: float) -> PricePoint | None:
        """The price the grid quotes around (`pricing.source`)."""
        return self.price(self.cfg.source, now)

    def risk_reference(self, now: float) -> PricePoint | None:
        """The price the risk band is measured against (`pricing.risk_reference`)."""
        return self.price(self.cfg.risk_reference, now)

    def status(self, now: float) -> list[PriceStatus]:
        """Every source's latest price and whether it is fresh, for the bot's state."""
        out = []
        for kind, src in self._by_kind.items():
            p = src.current()
            out.append(
                PriceStatus(
                    kind,
                    None if p is None else p.price,
                    None if p is None else p.at,
                    p is not None and p.fresh(now, self.max_age),
                )
            )
        return out
