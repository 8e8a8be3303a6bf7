"""The external reference market feed: the one asynchronous piece of pricing.

It reads another market through the ordinary venue interface (any Venue, any symbol) and feeds
its books into a PriceBoard's external source. It does not reconnect or retry by itself: when
the stream ends or fails, the price simply goes stale, the board stops returning it and the
risk engine sees stale data; the bot's supervisor decides whether to restart the feed.
"""

from __future__ import annotations

from collections.abc import Callable

from agent.pricing.sources import PriceBoard
from agent.venues.base import BookUpdate, Venue


class ExternalFeed:
    def __init__(
        self,
        venue: Venue,
        symbol: str,
        board: PriceBoard,
        now: Callable[[], float] | None = None,
    ) -> None:
        """`now`, when given, stamps each book with the local receive time instead of the
        venue's timestamp (venue clocks drift; freshness is about what we have seen)."""
        self.venue = venue
        self.symbol = symbol
        self.board = board
        self._now = now
        self.books = 0  # books fed, for the status

    async def run(self) -> None:
        """Consume the external market's stream until it ends (or the task is cancelled)."""
        async for ev in self.venue.stream(self.symbol):
            if isinstance(ev, BookUpdate) and ev.book.symbol == self.symbol:
                self.board.on_external_book(ev.book, None if self._now is None else self._now())
                self.books += 1
