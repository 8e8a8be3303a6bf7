"""Keeps the bot's live orders in line with the desired ladder, with the fewest venue calls.

Decision (`plan`, `admit`) is separate from I/O (`send`), so it can be measured and tested alone.
Orders follow the state table in `agent.orders`; venue reports that are merely late or repeated
are recognised and dropped, anything else that breaks the table is raised as an error event.
"""

from __future__ import annotations

import asyncio
import bisect
import operator
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agent.client_ids import ClientIdFactory
from agent.events import EventBus, EventKind, Severity
from agent.model import (
    ZERO,
    CreateResult,
    Fill,
    MarketRules,
    OrderRequest,
    Side,
    TimeInForce,
    VenueOrder,
    VenueOrderStatus,
    slot_init,
)
from agent.orders import TERMINAL, IllegalTransition, OrderState, TrackedOrder
from agent.self_trade import SelfTradeGuard
from agent.venues.base import Venue, VenueError, VenueErrorCode, VenueTimeout, max_batch

S = OrderState

# Enum members as module constants: `Side.BUY` is a descriptor lookup in Python 3.11 (~70 ns),
# which adds up on the decision path (tens of orders, several checks each).
_BUY = Side.BUY
_PENDING_NEW = S.PENDING_NEW
_PENDING_CANCEL = S.PENDING_CANCEL
_TERMINAL = TERMINAL
_ORDER = EventKind.ORDER
_DEBUG = Severity.DEBUG
_SIDES = (Side.BUY, Side.SELL)
_price_of = operator.attrgetter("price")
_SIDE_VALUE = {side: side.value for side in Side}
_STATE_VALUE = {state: state.value for state in OrderState}

# Seconds an order with an unknown create outcome waits before we ask the venue about it.
RECONCILE_AFTER = 2.0
# Closed orders kept in memory for late venue reports (ids only matter for dedup).
CLOSED_KEEP = 2000


@slot_init  # one Want per level per decision: see agent.model.slot_init
@dataclass(frozen=True, slots=True)
class Want:
    """One wanted order: what the strategy asked for on one level."""

    side: Side
    price: Decimal
    amount: Decimal
    tif: TimeInForce = TimeInForce.POST_ONLY
    tag: str = "grid"


@dataclass(slots=True)
class Plan:
    cancels: list[TrackedOrder] = field(default_factory=list)
    creates: list[OrderRequest] = field(default_factory=list)
    skipped: list[tuple[Want, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.cancels and not self.creates


# (request, own orders open or in flight, quote they lock) -> (request to send or None, reason)
PreTrade = Callable[[OrderRequest, int, Decimal], tuple[OrderRequest | None, str]]
# Called once per admitted batch (one decision): returns the check for each order of the batch,
# so what is the same for the whole decision (time, market view, references) is looked up once;
# None when there is nothing to check.
PreTradeFactory = Callable[[], PreTrade | None]


class OrderManager:
    def __init__(
        self,
        *,
        bot: str,
        symbol: str,
        rules: MarketRules,
        venue: Venue,
        bus: EventBus,
        ids: ClientIdFactory,
        now: Callable[[], float],
        on_fill: Callable[[Fill], None],
        on_api_error: Callable[[str], None],
        on_reject: Callable[[str, str], None],
    ) -> None:
        self.bot = bot
        self.symbol = symbol
        self.rules = rules
        self.venue = venue
        self.bus = bus
        self.ids = ids
        self.now = now
        self._on_fill = on_fill
        self._on_api_error = on_api_error
        self._on_reject = on_reject
        self.orders: dict[str, TrackedOrder] = {}  # every non-terminal order, by client id
        self.closed: dict[str, TrackedOrder] = {}
        self.seen_trades: set[str] = set()
        self.stats: Counter[str] = Counter()
        self.pre_trade: PreTradeFactory | None = None
        self.post_only_bump: dict[Side, int] = {Side.BUY: 0, Side.SELL: 0}
        self.on_change: Callable[[TrackedOrder], None] | None = None
        self.version = 0  # bumped on every change of our orders: lets callers skip no-op diffs
        self.hold_creates = False  # set while the venue rate-limits us: cancels only
        # (quote, base) the account holds in total; lets creates overlap with cancels
        self.holdings: Callable[[], tuple[Decimal, Decimal]] | None = None

    # ---------------------------------------------------------------- views
    def active(self) -> Iterable[TrackedOrder]:
        return self.orders.values()

    def live_counts(self) -> tuple[int, int]:
        bids = asks = 0
        for o in self.orders.values():
            if o.live:
                if o.side is Side.BUY:
                    bids += 1
                else:
                    asks += 1
        return bids, asks

    def locked(self) -> tuple[Decimal, Decimal]:
        """(quote, base) our non-terminal orders may hold on the venue."""
        q = b = ZERO
        buy = _BUY
        for o in self.orders.values():
            if o.side is buy:
                q += o.price * (o.amount - o.filled)  # o.remaining, without the property call
            else:
                b += o.amount - o.filled
        return q, b

    def get(self, client_order_id: str) -> TrackedOrder | None:
        return self.orders.get(client_order_id) or self.closed.get(client_order_id)

    # ---------------------------------------------------------------- decision
    def plan(
        self,
        wants: list[Want],
        tolerance_pct: Decimal,
        size_tolerance_pct: Decimal | None = None,
        *,
        tag: str = "grid",
    ) -> Plan:
        """Diff wanted orders against live ones of the same tag.

        A live order stays if some wanted order on its side is within the tolerance in both
        price and size (keeps queue priority). Orders in flight count as live so they are not
        duplicated; orders being cancelled are ignored for matching.
        """
        tol = tolerance_pct / 100
        size_tol = tol if size_tolerance_pct is None else size_tolerance_pct / 100
        plan = Plan()
        by_side: dict[Side, list[TrackedOrder]] = {Side.BUY: [], Side.SELL: []}
        pending_cancel = _PENDING_CANCEL
        for o in self.orders.values():
            if o.tag == tag and o.state is not pending_cancel:
                by_side[o.side].append(o)
        want_by_side: dict[Side, list[Want]] = {Side.BUY: [], Side.SELL: []}
        for w in wants:
            want_by_side[w.side].append(w)
        next_id, symbol = self.ids.next, self.symbol
        add_create, add_cancel = plan.creates.append, plan.cancels.append
        pending_new = _PENDING_NEW
        bisect_left = bisect.bisect_left
        for side in _SIDES:
            live = sorted(by_side[side], key=_price_of)
            prices = [o.price for o in live]
            n = len(live)
            used = [False] * n
            for w in want_by_side[side]:
                price = w.price
                slack = price * tol
                i = bisect_left(prices, price - slack)
                top = price + slack
                hit = -1
                best = None
                if i < n and prices[i] <= top:
                    amount = w.amount
                    size_slack = amount * size_tol
                    while i < n and prices[i] <= top:
                        if not used[i]:
                            o = live[i]
                            if abs(o.amount - o.filled - amount) <= size_slack:  # o.remaining
                                d = abs(prices[i] - price)
                                if best is None or d < best:
                                    best, hit = d, i
                        i += 1
                if hit >= 0:
                    used[hit] = True
                    continue
                add_create(OrderRequest(next_id(), symbol, side, price, w.amount, w.tif))
            for i, o in enumerate(live):
                if not used[i] and o.state is not pending_new:
                    add_cancel(o)
        return plan

    # ---------------------------------------------------------------- execution
    def admit(self, plan: Plan, *, tag: str = "grid") -> Plan:
        """Run the guards and record intent, synchronously (part of the decision path).

        Creates pass pre-trade risk (veto or clip) and the self-trade guard, then are tracked as
        PENDING_NEW; cancels move to PENDING_CANCEL. What is returned is exactly what `send`
        will hand to the venue.
        """
        admitted: list[OrderRequest] = []
        if self.hold_creates and plan.creates:
            self.stats["held_creates"] += len(plan.creates)
            plan = Plan(cancels=plan.cancels, skipped=plan.skipped)  # cancels still go
        # one decision, one instant: the time of all its records
        now = self.now() if plan.creates or plan.cancels else 0.0
        if plan.creates:
            self._admit_creates(plan.creates, tag, now, admitted)
        cancels = []
        for o in plan.cancels:
            if o.state in _TERMINAL or o.state is _PENDING_CANCEL:  # o.terminal, inlined
                continue
            self._transition(o, _PENDING_CANCEL, "", now)
            cancels.append(o)
        return Plan(cancels=cancels, creates=admitted, skipped=plan.skipped)

    def _admit_creates(
        self, creates: list[OrderRequest], tag: str, now: float, admitted: list[OrderRequest]
    ) -> None:
        orders = self.orders
        guard = SelfTradeGuard(orders.values())
        # The pre-trade context (market view, time, references) is built once for the batch;
        # each order is still checked against every rule, with the counts and the quote locked
        # by the orders admitted before it.
        check = self.pre_trade() if self.pre_trade is not None else None
        open_count = len(orders)
        quote_locked = self.locked()[0] if check is not None else ZERO
        emit = self._emit_order
        buy = _BUY
        for req in creates:
            final = req
            if check is not None:
                checked, why = check(req, open_count, quote_locked)
                if checked is None:
                    self.stats["vetoed"] += 1
                    self._emit_skip(req, why)
                    continue
                final = checked
            side, price = final.side, final.price
            # The hard rule: never send an order that could reach our own resting orders.
            if guard.blocks(side, price):
                self.stats["self_trade_prevented"] += 1
                self._emit_skip(final, "self-trade prevention: would reach an own order")
                continue
            o = TrackedOrder.from_request(final, now)
            o.tag = tag
            self.version += 1
            orders[o.client_order_id] = o
            emit(o, "")
            admitted.append(final)
            guard.add(side, price)
            open_count += 1
            if side is buy:
                quote_locked += price * final.amount

    async def send(self, plan: Plan) -> None:
        """Hand an admitted plan to the venue, in batches.

        Cancels go first. When our holdings cover the new orders even before the cancelled
        ones release their funds, the creates go out at the same time (no gap in the quotes);
        otherwise they wait for the cancels to be confirmed.
        """
        cancels = self._batches(plan.cancels, "cancel", self._cancel_batch)
        creates = self._batches(plan.creates, "create", self._create_batch)
        if plan.cancels and plan.creates and self._fundable():
            await asyncio.gather(cancels, creates)
        else:
            await cancels
            await creates

    async def _batches(self, items: list[Any], kind: str, call: Callable[[Any], Any]) -> None:
        n = max_batch(self.venue.capabilities, kind)
        for i in range(0, len(items), n):
            await call(items[i : i + n])

    def _fundable(self) -> bool:
        if self.holdings is None:
            return False
        quote, base = self.holdings()
        locked_q, locked_b = self.locked()
        return locked_q <= quote and locked_b <= base

    async def create(self, requests: list[OrderRequest], *, tag: str = "grid") -> None:
        await self.send(self.admit(Plan(creates=requests), tag=tag))

    async def cancel(self, orders: list[TrackedOrder]) -> None:
        await self.send(self.admit(Plan(cancels=orders)))

    async def _create_batch(self, batch: list[OrderRequest]) -> None:
        self.stats["create_calls"] += 1
        try:
            results = await self.venue.create_orders(batch)
        except VenueTimeout:
            now = self.now()
            for req in batch:
                o = self.orders.get(req.client_order_id)
                if o is not None and o.state is S.PENDING_NEW:
                    o.unknown_since = now
            self.stats["create_timeouts"] += 1
            self._error("create_timeout", f"{len(batch)} order(s) in flight, outcome unknown")
            self._on_api_error("timeout")
            return
        except VenueError as exc:
            # Nothing was placed. A rate limit is the venue's pacing, not a reject of ours:
            # it must not count toward the reject breaker (one API error instead).
            rate_limited = exc.code is VenueErrorCode.RATE_LIMITED
            for req in batch:
                self._reject(
                    req.client_order_id, exc.code.value, exc.message, count=not rate_limited
                )
            self._error("create_failed", str(exc))
            self._on_api_error(exc.code.value)
            return
        for res in results:
            self._apply_create(res)

    def _apply_create(self, res: CreateResult) -> None:
        cid = res.request.client_order_id
        if res.order is not None:
            self.stats["orders_placed"] += 1
            self.apply_venue_order(res.order)
            return
        self._reject(cid, res.error, res.message)

    def _reject(self, cid: str, code: str, message: str, *, count: bool = True) -> None:
        o = self.orders.get(cid)
        if o is None or o.state is not S.PENDING_NEW:
            return
        if code == VenueErrorCode.POST_ONLY_WOULD_TAKE:
            self.post_only_bump[o.side] += 1  # re-price one tick safer next cycle
        self._transition(o, S.REJECTED, f"{code}: {message}" if message else code)
        if count:
            self.stats["rejects"] += 1
            self._on_reject(code, message)

    async def _cancel_batch(self, batch: list[TrackedOrder]) -> None:
        self.stats["cancel_calls"] += 1
        try:
            results = await self.venue.cancel_orders(
                self.symbol, [(o.client_order_id, o.venue_order_id) for o in batch]
            )
        except VenueTimeout:
            self._error("cancel_timeout", f"{len(batch)} cancel(s) outcome unknown")
            self._on_api_error("timeout")
            return  # stay PENDING_CANCEL; reconcile() settles them
        except VenueError as exc:
            for o in batch:
                if o.state is S.PENDING_CANCEL:
                    back = S.PARTIALLY_FILLED if o.filled > 0 else S.OPEN
                    self._transition(o, back, f"cancel failed: {exc.code.value}")
            self._error("cancel_failed", str(exc))
            self._on_api_error(exc.code.value)
            return
        for res in results:
            found = self.orders.get(res.client_order_id)
            if found is None:
                continue
            o = found
            if res.ok:
                if res.order is not None:
                    self.apply_venue_order(res.order)
                if not o.terminal:
                    self._transition(o, S.CANCELED, "")
            elif res.error == VenueErrorCode.ORDER_NOT_FOUND:
                o.unknown_since = self.now()  # filled or gone: reconcile() asks the venue
            else:
                back = S.PARTIALLY_FILLED if o.filled > 0 else S.OPEN
                self._transition(o, back, f"cancel refused: {res.error} {res.message}")

    async def cancel_all(self) -> bool:
        """Cancel everything of ours on the venue and confirm. True when nothing is left."""
        await self.cancel(list(self.orders.values()))
        try:
            self.stats["cancel_all_calls"] += 1
            for res in await self.venue.cancel_all(self.symbol):
                if res.order is not None:
                    self.apply_venue_order(res.order)
        except VenueError as exc:
            self._error("cancel_all_failed", str(exc))
            self._on_api_error(exc.code.value)
        return await self.confirm_flat()

    async def confirm_flat(self) -> bool:
        """Ask the venue which of our orders are open; settle our book from its answer."""
        try:
            open_orders = await self.venue.fetch_open_orders(self.symbol)
        except VenueError as exc:
            self._error("confirm_failed", str(exc))
            self._on_api_error(exc.code.value)
            return False
        ours = {vo.client_order_id for vo in open_orders if self.ids.owns(vo.client_order_id)}
        for vo in open_orders:
            if self.ids.owns(vo.client_order_id):
                self.apply_venue_order(vo)
        for o in list(self.orders.values()):
            if o.client_order_id not in ours and not o.terminal:
                await self._settle_missing(o)
        return not ours and not self.orders

    async def reconcile(self) -> None:
        """Settle orders whose outcome is unknown, by client order id. Never re-submits."""
        now = self.now()
        for o in list(self.orders.values()):
            if o.unknown_since is None or now - o.unknown_since < RECONCILE_AFTER:
                continue
            await self._settle_missing(o)

    async def _settle_missing(self, o: TrackedOrder) -> None:
        try:
            vo = await self.venue.fetch_order(self.symbol, o.client_order_id)
        except VenueError as exc:
            self._error("reconcile_failed", f"{o.client_order_id}: {exc}")
            self._on_api_error(exc.code.value)
            return
        o.unknown_since = None
        if vo is None:
            if o.state is S.PENDING_NEW:
                self._transition(o, S.REJECTED, "venue never received it")
            elif not o.terminal:
                self._transition(o, S.CANCELED, "venue no longer has it")
            return
        self.apply_venue_order(vo)
        if vo.status is VenueOrderStatus.OPEN and o.state is S.PENDING_CANCEL:
            o.unknown_since = self.now()

    # ---------------------------------------------------------------- venue reports
    def apply_venue_order(self, vo: VenueOrder) -> None:
        o = self.orders.get(vo.client_order_id)
        if o is None:
            if vo.client_order_id not in self.closed:
                self.stats["unknown_reports"] += 1
            return
        if vo.venue_order_id:
            o.venue_order_id = vo.venue_order_id
        o.unknown_since = None
        filled = max(o.filled, vo.filled)
        if vo.status is VenueOrderStatus.FILLED or filled >= o.amount:
            target = S.FILLED
        elif vo.status is VenueOrderStatus.CANCELED:
            target = S.CANCELED
        elif vo.status is VenueOrderStatus.REJECTED:
            target = S.REJECTED
        elif o.state is S.PENDING_CANCEL:
            target = S.PENDING_CANCEL
        else:
            target = S.PARTIALLY_FILLED if filled > 0 else S.OPEN
        if target is o.state or self._is_stale(o.state, target):
            self.stats["stale_reports"] += 1
            return
        if target is S.REJECTED and o.state is S.PENDING_NEW:
            self._reject(o.client_order_id, VenueErrorCode.REJECTED.value, vo.reason)
            return
        self._transition(o, target, vo.reason)

    @staticmethod
    def _is_stale(cur: OrderState, target: OrderState) -> bool:
        """A late report of a state we already moved past (e.g. OPEN after a fill)."""
        if cur is S.PARTIALLY_FILLED and target is S.OPEN:
            return True
        return cur is S.PENDING_CANCEL and target in (S.OPEN, S.PARTIALLY_FILLED)

    def apply_fill(self, fill: Fill) -> None:
        if fill.trade_id in self.seen_trades:
            self.stats["duplicate_fills"] += 1
            return
        self.seen_trades.add(fill.trade_id)
        o = self.orders.get(fill.client_order_id)
        self._on_fill(fill)  # inventory first: money is updated the moment we see the fill
        if o is None:
            return
        o.filled += fill.amount
        o.unknown_since = None
        self.version += 1
        if o.filled >= o.amount:
            self._transition(o, S.FILLED, "")
        elif o.state is S.PENDING_CANCEL:
            self._transition(o, S.PENDING_CANCEL, "")
        else:
            self._transition(o, S.PARTIALLY_FILLED, "")

    # ---------------------------------------------------------------- helpers
    def _transition(
        self, o: TrackedOrder, dst: OrderState, reason: str, now: float | None = None
    ) -> None:
        self.version += 1
        try:
            o.transition(dst, self.now() if now is None else now, reason)
        except IllegalTransition as exc:
            self.stats["illegal_transitions"] += 1
            self._error("illegal_transition", str(exc), severity=Severity.ERROR)
            return
        if dst in _TERMINAL:  # o.terminal (the state is dst now), inlined: the hot path
            self.orders.pop(o.client_order_id, None)
            self.closed[o.client_order_id] = o
            if len(self.closed) > CLOSED_KEEP:
                self.closed.pop(next(iter(self.closed)))
            if dst is S.CANCELED:
                self.stats["orders_canceled"] += 1
        self._emit_order(o, reason)
        if self.on_change is not None:
            self.on_change(o)

    def _emit_order(self, o: TrackedOrder, reason: str = "") -> None:
        # The hot path of every order event: the data dict is built once, here, and enum
        # values come from a table (`.value` is a descriptor call in Python 3.11).
        self.bus.emit_data(
            _ORDER,
            self.bot,
            _DEBUG,
            {
                "client_order_id": o.client_order_id,
                "venue_order_id": o.venue_order_id,
                "side": _SIDE_VALUE[o.side],
                "price": o.price,
                "amount": o.amount,
                "filled": o.filled,
                "status": _STATE_VALUE[o.state],
                "post_only": o.post_only,
                "tag": o.tag,
                "reason": reason,
            },
        )

    def _emit_skip(self, req: OrderRequest, why: str) -> None:
        self.bus.emit(
            EventKind.WARNING,
            self.bot,
            Severity.INFO,
            code="order_skipped",
            side=req.side.value,
            price=req.price,
            amount=req.amount,
            message=why,
        )

    def _error(self, code: str, message: str, severity: Severity = Severity.WARNING) -> None:
        self.bus.emit(EventKind.ERROR, self.bot, severity, code=code, message=message)
