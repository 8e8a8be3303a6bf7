"""The venue interface: what the engine needs from an exchange, and nothing more.

The simulated venue and the ccxt-backed live venues implement it. Calls are async; market and
account events arrive through `stream()`. A call whose outcome is unknown (timeout) raises
`VenueTimeout`: the engine keeps such orders in flight and reconciles them by client order id.
"""

from __future__ import annotations

import abc
import enum
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

from agent.config import BotConfig
from agent.model import (
    Balance,
    CancelResult,
    CreateResult,
    Fill,
    MarketRules,
    OrderBook,
    OrderRequest,
    PublicTrade,
    VenueOrder,
)


class VenueErrorCode(enum.StrEnum):
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    POST_ONLY_WOULD_TAKE = "POST_ONLY_WOULD_TAKE"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    RATE_LIMITED = "RATE_LIMITED"
    INVALID_ORDER = "INVALID_ORDER"
    AUTH = "AUTH"
    NETWORK = "NETWORK"
    TIMEOUT = "TIMEOUT"
    REJECTED = "REJECTED"


class VenueError(Exception):
    """A venue call that failed with a known outcome (nothing happened)."""

    def __init__(self, code: VenueErrorCode, message: str = "") -> None:
        super().__init__(f"{code.value}: {message}" if message else code.value)
        self.code = code
        self.message = message


class VenueTimeout(VenueError):
    """The call may or may not have taken effect. Never re-submit blindly: reconcile."""

    def __init__(self, message: str = "outcome unknown") -> None:
        super().__init__(VenueErrorCode.TIMEOUT, message)


@dataclass(frozen=True, slots=True)
class Capabilities:
    batch_create: bool = False
    batch_cancel: bool = False
    max_batch_create: int = 1
    max_batch_cancel: int = 1
    amend: bool = False
    post_only: bool = True
    watch_orders: bool = False
    watch_my_trades: bool = False
    watch_balance: bool = False
    dead_man_switch: bool = False


@dataclass(frozen=True, slots=True)
class BookUpdate:
    book: OrderBook


@dataclass(frozen=True, slots=True)
class TradeUpdate:
    trade: PublicTrade


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    order: VenueOrder


@dataclass(frozen=True, slots=True)
class FillUpdate:
    fill: Fill


@dataclass(frozen=True, slots=True)
class BalanceUpdate:
    balances: dict[str, Balance]


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """A market-data or account stream went down (`up=False`) or came back."""

    stream: str
    up: bool
    reason: str = ""


VenueEvent = BookUpdate | TradeUpdate | OrderUpdate | FillUpdate | BalanceUpdate | StreamStatus


class Venue(abc.ABC):
    """One account on one exchange. Keep this small: every venue implements all of it."""

    name: str = "venue"
    capabilities: Capabilities = Capabilities()

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()  # venue calls per kind, for the run summary

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect, load markets, start streams."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def market_rules(self, symbol: str) -> MarketRules: ...

    @abc.abstractmethod
    async def fetch_balances(self) -> dict[str, Balance]: ...

    @abc.abstractmethod
    async def fetch_order_book(self, symbol: str, depth: int = 50) -> OrderBook: ...

    @abc.abstractmethod
    async def create_orders(self, requests: list[OrderRequest]) -> list[CreateResult]:
        """Place orders (one venue call when batch_create, else one per order).

        Per-order failures come back in the results; a whole call whose outcome is unknown
        raises VenueTimeout; a whole call known to have failed raises VenueError."""

    @abc.abstractmethod
    async def cancel_orders(self, symbol: str, orders: list[tuple[str, str]]) -> list[CancelResult]:
        """Cancel by (client_order_id, venue_order_id); venue_order_id may be ''."""

    @abc.abstractmethod
    async def cancel_all(self, symbol: str) -> list[CancelResult]: ...

    @abc.abstractmethod
    async def fetch_open_orders(self, symbol: str) -> list[VenueOrder]: ...

    @abc.abstractmethod
    async def fetch_order(self, symbol: str, client_order_id: str) -> VenueOrder | None:
        """The venue's view of one order by client id; None if the venue never saw it."""

    @abc.abstractmethod
    async def fetch_fills(self, symbol: str, since: float) -> list[Fill]: ...

    @abc.abstractmethod
    def stream(self, symbol: str) -> AsyncIterator[VenueEvent]:
        """Market data and account events for `symbol`, in venue order."""

    def check_config(self, config: BotConfig) -> list[str]:
        """Configuration this venue cannot serve, as 'field.path: rule' lines."""
        if config.market_making.post_only and not self.capabilities.post_only:
            return [
                f"market_making.post_only: venue {self.name} has no post-only orders; "
                "set post_only: false to quote with ordinary limit orders"
            ]
        return []

    async def arm_dead_man(self, symbol: str, seconds: int) -> None:
        """Ask the venue to cancel our orders if not re-armed within `seconds` (0 disarms)."""
        raise VenueError(VenueErrorCode.INVALID_ORDER, f"{self.name} has no dead-man switch")


def max_batch(cap: Capabilities, kind: str) -> int:
    if kind == "create":
        return cap.max_batch_create if cap.batch_create else 1
    return cap.max_batch_cancel if cap.batch_cancel else 1


DEC0 = Decimal(0)
