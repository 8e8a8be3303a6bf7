"""The order state machine: every allowed transition in one table; anything else is an error."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal

from agent.model import ZERO, OrderRequest, Side, TimeInForce


class OrderState(enum.StrEnum):
    PENDING_NEW = "PENDING_NEW"  # sent, not acknowledged (includes 'outcome unknown')
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"


S = OrderState

# from-state -> allowed to-states. A fill while a cancel is pending keeps PENDING_CANCEL.
TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.PENDING_NEW: frozenset(
        {S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.REJECTED, S.CANCELED, S.PENDING_CANCEL}
    ),
    S.OPEN: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.CANCELED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.CANCELED}),
    S.PENDING_CANCEL: frozenset(
        {S.PENDING_CANCEL, S.CANCELED, S.FILLED, S.OPEN, S.PARTIALLY_FILLED}
    ),
    S.FILLED: frozenset(),
    S.CANCELED: frozenset(),
    S.REJECTED: frozenset(),
}

TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
LIVE = frozenset({S.OPEN, S.PARTIALLY_FILLED, S.PENDING_CANCEL})  # resting on the venue's book
_POST_ONLY = TimeInForce.POST_ONLY


class IllegalTransition(Exception):
    def __init__(self, client_order_id: str, src: OrderState, dst: OrderState) -> None:
        super().__init__(f"order {client_order_id}: illegal transition {src} -> {dst}")
        self.client_order_id = client_order_id
        self.src = src
        self.dst = dst


@dataclass(slots=True)
class TrackedOrder:
    """The engine's view of one of its orders."""

    client_order_id: str
    symbol: str
    side: Side
    price: Decimal
    amount: Decimal
    post_only: bool
    created_at: float
    state: OrderState = OrderState.PENDING_NEW
    venue_order_id: str = ""
    filled: Decimal = ZERO
    updated_at: float = 0.0
    reason: str = ""
    tag: str = "grid"  # which program owns it: "grid" or "volume"
    unknown_since: float | None = None  # set while the create outcome is unknown
    history: list[tuple[float, OrderState, OrderState]] = field(default_factory=list)

    @classmethod
    def from_request(cls, req: OrderRequest, at: float) -> TrackedOrder:
        # positional, and post_only without the property call: on the decision path
        return cls(
            req.client_order_id,
            req.symbol,
            req.side,
            req.price,
            req.amount,
            req.tif is _POST_ONLY,  # req.post_only
            at,
            updated_at=at,
        )

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def live(self) -> bool:
        return self.state in LIVE

    def transition(self, dst: OrderState, at: float, reason: str = "") -> OrderState:
        """Move to `dst` or raise IllegalTransition. Returns the previous state."""
        src = self.state
        if dst not in TRANSITIONS[src]:
            raise IllegalTransition(self.client_order_id, src, dst)
        self.state = dst
        self.updated_at = at
        if reason:
            self.reason = reason
        self.history.append((at, src, dst))
        return src
