"""Value types shared by strategy, order manager and venues.

Money is Decimal end to end: prices, amounts and balances never pass through binary floats.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, TypeVar

ZERO = Decimal(0)


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class TimeInForce(enum.StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    POST_ONLY = "poc"


class Liquidity(enum.StrEnum):
    MAKER = "maker"
    TAKER = "taker"


@dataclass(frozen=True, slots=True)
class MarketRules:
    """Trading rules of one market: every order price/amount must fit them."""

    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    min_notional: Decimal
    min_amount: Decimal = ZERO
    maker_fee: Decimal = ZERO
    taker_fee: Decimal = ZERO

    def floor_price(self, price: Decimal) -> Decimal:
        return (price / self.tick_size).to_integral_value(ROUND_FLOOR) * self.tick_size

    def ceil_price(self, price: Decimal) -> Decimal:
        return (price / self.tick_size).to_integral_value(ROUND_CEILING) * self.tick_size

    def safe_price(self, side: Side, price: Decimal) -> Decimal:
        """Round away from the touch: bids down, asks up."""
        return self.floor_price(price) if side is Side.BUY else self.ceil_price(price)

    def floor_amount(self, amount: Decimal) -> Decimal:
        return (amount / self.lot_size).to_integral_value(ROUND_FLOOR) * self.lot_size

    def fits(self, price: Decimal, amount: Decimal) -> bool:
        """True when price/amount are on the grid and meet the minimums."""
        # Against the Decimal ZERO, and `not remainder` for `remainder == 0`: the same results
        # without converting an int each time, 0.38 -> 0.25 us (pre-trade risk, every order).
        return (
            price > ZERO
            and amount > ZERO
            and not price % self.tick_size
            and not amount % self.lot_size
            and amount >= self.min_amount
            and price * amount >= self.min_notional
        )


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class OrderBook:
    """A depth snapshot: bids best-first (descending), asks best-first (ascending)."""

    symbol: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    at: float  # venue timestamp, epoch seconds
    seq: int = 0

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0].price if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return (self.bids[0].price + self.asks[0].price) / 2


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


_T = TypeVar("_T")

# Value types built on the hot path (an order request per order, a quote per ladder level, an
# event per order action): a frozen dataclass's generated __init__ sets each field with
# object.__setattr__(self, name, value); the slot descriptors' own setters do the same for
# about 40 % less (OrderRequest: 0.67 -> 0.40 us). `slot_init` gives a class such an __init__;
# `slot_setters` hands the setters to code that builds instances inline (agent.events).


def slot_setters(cls: type) -> tuple[Callable[[Any, Any], None], ...]:
    """The slot descriptors' `__set__` of a slots dataclass, in field order."""
    if not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a slots dataclass")
    return tuple(cls.__dict__[f.name].__set__ for f in dataclasses.fields(cls))


def slot_init(cls: type[_T]) -> type[_T]:
    """Class decorator, above `@dataclass(frozen=True, slots=True)`: replaces the generated
    `__init__` by one that sets the fields through `slot_setters`.

    Same parameters (names, order, defaults, default factories), same field values, still
    frozen for everyone else; `__post_init__`, if any, still runs. Classes whose `__init__` is
    not exactly one positional-or-keyword parameter per field (InitVar, init=False, kw_only)
    are refused rather than half supported.
    """
    setters = slot_setters(cls)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]  # checked by slot_setters
    names = [f.name for f in fields]
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if [p.name for p in params] != names or any(
        p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params
    ):
        raise TypeError(f"slot_init: {cls.__name__}.__init__ is not one parameter per field")
    ns: dict[str, Any] = {"_slot_missing__": object()}
    args, body = [], []
    for i, f in enumerate(fields):
        ns[f"_slot_set_{i}__"] = setters[i]
        if f.default is not dataclasses.MISSING:
            ns[f"_slot_default_{i}__"] = f.default
            args.append(f"{f.name}=_slot_default_{i}__")
        elif f.default_factory is not dataclasses.MISSING:
            ns[f"_slot_factory_{i}__"] = f.default_factory
            args.append(f"{f.name}=_slot_missing__")
            body.append(f"    if {f.name} is _slot_missing__:")
            body.append(f"        {f.name} = _slot_factory_{i}__()")
        else:
            args.append(f.name)
        body.append(f"    _slot_set_{i}__(self, {f.name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    if "self" in names or set(names) & set(ns):
        raise TypeError(f"slot_init: {cls.__name__} has a field named like a local")
    exec(f"def __init__(self, {', '.join(args)}):\n" + "\n".join(body or ["    pass"]), ns)
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


@slot_init
@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What the order manager asks a venue to place."""

    client_order_id: str
    symbol: str
    side: Side
    price: Decimal
    amount: Decimal
    tif: TimeInForce = TimeInForce.POST_ONLY

    @property
    def post_only(self) -> bool:
        return self.tif is TimeInForce.POST_ONLY


class VenueOrderStatus(enum.StrEnum):
    """The venue's own view of an order, before the engine maps it onto its state table."""

    OPEN = "open"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """An order as the venue reports it (create ack, update, open-orders listing)."""

    client_order_id: str
    venue_order_id: str
    symbol: str
    side: Side
    price: Decimal
    amount: Decimal
    filled: Decimal
    status: VenueOrderStatus
    at: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one of our orders, unique by (venue, trade_id)."""

    trade_id: str
    client_order_id: str
    venue_order_id: str
    symbol: str
    side: Side
    price: Decimal
    amount: Decimal
    fee: Decimal
    fee_asset: str
    liquidity: Liquidity
    at: float

    @property
    def notional(self) -> Decimal:
        return self.price * self.amount


@dataclass(frozen=True, slots=True)
class PublicTrade:
    symbol: str
    price: Decimal
    amount: Decimal
    taker_side: Side
    at: float


@dataclass(frozen=True, slots=True)
class CreateResult:
    """Outcome of one create in a (batch) call. `order` is None when `error` is set."""

    request: OrderRequest
    order: VenueOrder | None = None
    error: str = ""  # engine error code, see agent.venues.base.VenueErrorCode
    message: str = ""


@dataclass(frozen=True, slots=True)
class CancelResult:
    client_order_id: str
    ok: bool
    error: str = ""
    message: str = ""
    order: VenueOrder | None = None


@dataclass(slots=True)
class Inventory:
    """Holdings of the bot's account in one market, own locked funds included."""

    base: Decimal = ZERO
    quote: Decimal = ZERO
    base_locked: Decimal = ZERO
    quote_locked: Decimal = ZERO
    extra: dict[str, Decimal] = field(default_factory=dict)

    def base_share(self, price: Decimal) -> Decimal:
        """Share of total value held in base, in [0, 1]; 0.5 when empty."""
        value_base = self.base * price
        total = value_base + self.quote
        if total <= 0:
            return Decimal("0.5")
        return value_base / total
