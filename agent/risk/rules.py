"""Risk value types and the small pieces the engine is built from.

Decisions and breaches are data (rule, measured value, limit, action), never exceptions, so the
bot can journal them, show them and act on them in one place.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from agent.config import BreachAction
from agent.model import OrderRequest

SECONDS_PER_DAY = 86400
WARN_RATIO = Decimal("0.8")  # a rule shows WARN once its value reaches 80 % of the limit
_PCT_Q = Decimal("0.0001")
_SEC_Q = Decimal("0.001")

Measure = Decimal | int


class RiskRule(enum.StrEnum):
    """Every rule the engine knows. Pre-trade rules veto or clip one order; continuous rules
    produce breaches."""

    # pre-trade
    HALTED = "halted"  # a breach is latched and the bot has not resumed yet
    MARKET_RULES = "market_rules"
    OPEN_ORDERS = "open_orders"  # also continuous
    POST_ONLY = "post_only"
    PRICE_BAND = "price_band"
    MIN_QUOTE_BALANCE = "min_quote_balance"
    # continuous
    PRICE_DEVIATION = "price_deviation"  # own mid vs the risk reference
    PRICE_MOVE = "price_move"  # own mid vs one minute ago; acts like price_deviation
    STALE_DATA = "stale_data"
    API_ERRORS = "api_errors"
    REJECTS = "rejects"
    DAILY_LOSS = "daily_loss"


class RuleState(enum.StrEnum):
    OK = "OK"
    WARN = "WARN"
    BREACHED = "BREACHED"


@dataclass(frozen=True, slots=True)
class Decision:
    """Outcome of one pre-trade check: allowed as is, allowed with a clipped amount, or vetoed.

    `rule`/`reason` are empty for an untouched order and name the rule for a clip or a veto.
    """

    allowed: bool
    amount: Decimal
    rule: str = ""
    reason: str = ""

    @property
    def clipped(self) -> bool:
        return self.allowed and bool(self.rule)

    def apply(self, req: OrderRequest) -> OrderRequest | None:
        """The request to send (None when vetoed): the order manager's pre-trade hook shape."""
        if not self.allowed:
            return None
        if self.amount == req.amount:
            return req
        return OrderRequest(
            req.client_order_id, req.symbol, req.side, req.price, self.amount, req.tif
        )


@dataclass(slots=True)
class PreTradeContext:
    """What a pre-trade check needs to know besides the order. Mutable on purpose: the caller
    can keep one instance and update it (e.g. add each admitted buy to `quote_locked`) instead
    of rebuilding it for every order of a batch.

    `quote_total` is the account's whole quote holding; `quote_locked` is what the bot's own
    non-terminal orders hold or may hold (pending and in-flight creates included), so
    `quote_total - quote_locked` is the free quote even before the venue has acknowledged them.
    """

    now: float
    open_orders: int
    quote_total: Decimal
    quote_locked: Decimal
    reference: Decimal | None = None
    best_bid: Decimal | None = None
    best_ask: Decimal | None = None

    @property
    def quote_free(self) -> Decimal:
        return self.quote_total - self.quote_locked


@dataclass(frozen=True, slots=True)
class Breach:
    """A continuous rule went from OK to breached. Reported once until its cause clears."""

    rule: RiskRule
    value: Measure
    limit: Measure
    action: BreachAction
    at: float
    message: str = ""

    def fields(self) -> dict[str, Any]:
        """Keyword fields for a `risk` event."""
        return {
            "code": "breach",
            "rule": self.rule.value,
            "value": self.value,
            "limit": self.limit,
            "action": self.action.value,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class RuleStatus:
    """One line of the risk status: the rule's current value against its limit.

    `value` is None while the rule has nothing to measure yet (no reference price, no book).
    """

    rule: RiskRule
    value: Measure | None
    limit: Measure
    state: RuleState
    action: BreachAction | None = None  # what a breach of this rule does; None for veto-only

    def fields(self) -> dict[str, Any]:
        return {
            "rule": self.rule.value,
            "value": self.value,
            "limit": self.limit,
            "state": self.state.value,
            "action": self.action.value if self.action is not None else None,
        }


def state_upper(value: Measure | None, limit: Measure) -> RuleState:
    """State of a rule breached when value > limit."""
    if value is None:
        return RuleState.OK
    if value > limit:
        return RuleState.BREACHED
    if value >= limit * WARN_RATIO:
        return RuleState.WARN
    return RuleState.OK


def state_lower(value: Decimal | None, limit: Decimal) -> RuleState:
    """State of a floor (breached when value < limit); WARN once limit/value reaches 80 %."""
    if value is None:
        return RuleState.OK
    if value < limit:
        return RuleState.BREACHED
    if value * WARN_RATIO <= limit:
        return RuleState.WARN
    return RuleState.OK


def pct(value: Decimal) -> Decimal:
    """Percentages for display and events: 4 decimals, not 28 digits."""
    return value.quantize(_PCT_Q, ROUND_HALF_UP)


def seconds(value: float) -> Decimal:
    """A duration as an exact-looking Decimal with millisecond resolution."""
    return Decimal(repr(max(0.0, value))).quantize(_SEC_Q, ROUND_HALF_UP)


def utc_day(ts: float) -> int:
    """Days since the epoch of a UTC timestamp: the key for "since 00:00 UTC" limits."""
    return int(ts // SECONDS_PER_DAY)


def utc_day_start(ts: float) -> float:
    return float(utc_day(ts) * SECONDS_PER_DAY)


class SlidingCount:
    """Events within the last `window` seconds (e.g. API errors per minute).

    Timestamps are kept in arrival order; events that arrive slightly out of order still count
    and are dropped once they fall out of the window.
    """

    __slots__ = ("_times", "window")

    def __init__(self, window: float = 60.0) -> None:
        self.window = window
        self._times: deque[float] = deque()

    def add(self, at: float) -> None:
        self._times.append(at)

    def count(self, now: float) -> int:
        cutoff = now - self.window
        times = self._times
        while times and times[0] <= cutoff:
            times.popleft()
        return sum(1 for t in times if cutoff < t <= now)

    def clear(self) -> None:
        self._times.clear()
