"""A price-time-priority matching engine for one spot market, with accounts, locks and fees.

Pure and synchronous on purpose: no asyncio, no clock of its own (every call takes `now`), no
randomness. The simulated venue drives it from async code, and a protocol emulator for a real
venue can wrap the same engine, so both see identical matching, locking and fee behaviour.

Money is Decimal throughout. Prices are kept as integer ticks inside the book only so that level
lookups and sorting are cheap; everything the engine hands out is Decimal.

Rules worth knowing:
- A buy locks `price * amount` quote, a sell locks `amount` base, when it is accepted. A fill
  releases the lock at the order's own limit price; a taker buy that trades below its limit gets
  the difference back at once. Cancel (and IOC expiry) refunds what is still locked.
- Each side pays its fee in the asset it receives (buyer in base, seller in quote), maker rate
  for the resting order, taker rate for the incoming one. Fees are kept in `fees_collected`, so
  `asset_totals()` (all accounts plus fees) is conserved exactly by every operation.
- Trades between two orders of the same account are executed like any other but counted in
  `self_trade_count`: the venue can then report self-matching it observed, independently of any
  prevention the bot claims to do.
"""

from __future__ import annotations

import bisect
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from agent.model import (
    ZERO,
    Balance,
    BookLevel,
    Fill,
    Liquidity,
    MarketRules,
    PublicTrade,
    Side,
    TimeInForce,
    VenueOrder,
    VenueOrderStatus,
)
from agent.venues.base import VenueErrorCode

DEFAULT_HISTORY_LIMIT = 20_000
DEFAULT_TRADE_HISTORY_LIMIT = 200_000


# --------------------------------------------------------------------------- records and events


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One execution, with both sides named: the venue's own audit trail of who traded whom."""

    trade_id: str
    price: Decimal
    amount: Decimal
    taker_side: Side
    maker_account: str
    maker_order_id: str
    maker_client_order_id: str
    taker_account: str
    taker_order_id: str
    taker_client_order_id: str
    maker_fee: Decimal
    maker_fee_asset: str
    taker_fee: Decimal
    taker_fee_asset: str
    at: float

    @property
    def notional(self) -> Decimal:
        return self.price * self.amount

    @property
    def self_trade(self) -> bool:
        return self.maker_account == self.taker_account

    def involves(self, account_id: str) -> bool:
        return account_id in (self.maker_account, self.taker_account)

    def public(self, symbol: str) -> PublicTrade:
        """What the public trade feed shows: no accounts, no order ids."""
        return PublicTrade(symbol, self.price, self.amount, self.taker_side, self.at)

    def fills_for(self, account_id: str, symbol: str) -> list[Fill]:
        """The fills `account_id` sees for this trade: one, or two for a self-trade.

        A self-trade yields two fills of the same trade; the maker leg gets the suffix "-m" so
        fills stay unique by (venue, trade_id) as the journal requires."""
        out: list[Fill] = []
        if self.taker_account == account_id:
            out.append(
                Fill(
                    trade_id=self.trade_id,
                    client_order_id=self.taker_client_order_id,
                    venue_order_id=self.taker_order_id,
                    symbol=symbol,
                    side=self.taker_side,
                    price=self.price,
                    amount=self.amount,
                    fee=self.taker_fee,
                    fee_asset=self.taker_fee_asset,
                    liquidity=Liquidity.TAKER,
                    at=self.at,
                )
            )
        if self.maker_account == account_id:
            out.append(
                Fill(
                    trade_id=f"{self.trade_id}-m" if self.self_trade else self.trade_id,
                    client_order_id=self.maker_client_order_id,
                    venue_order_id=self.maker_order_id,
                    symbol=symbol,
                    side=self.taker_side.opposite,
                    price=self.price,
                    amount=self.amount,
                    fee=self.maker_fee,
                    fee_asset=self.maker_fee_asset,
                    liquidity=Liquidity.MAKER,
                    at=self.at,
                )
            )
        return out


@dataclass(frozen=True, slots=True)
class OrderChanged:
    """An order was accepted, (partially) filled, canceled or expired."""

    account_id: str
    order: VenueOrder


@dataclass(frozen=True, slots=True)
class TradeExecuted:
    trade: TradeRecord


@dataclass(frozen=True, slots=True)
class BalancesChanged:
    """Free/locked balances of `account_id` changed; read them with `engine.balances()`."""

    account_id: str
    at: float


@dataclass(frozen=True, slots=True)
class BookChanged:
    """The visible book changed; `version` is `engine.book_version` after the change."""

    version: int
    at: float


EngineEvent = OrderChanged | TradeExecuted | BalancesChanged | BookChanged
EngineListener = Callable[[EngineEvent], None]


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """Outcome of `submit`: `order` (final state after matching) or an `error` code."""

    order: VenueOrder | None
    error: VenueErrorCode | None = None
    message: str = ""
    trades: tuple[TradeRecord, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    """Outcome of `cancel`. A closed order gives ORDER_NOT_FOUND with its final state."""

    ok: bool
    order: VenueOrder | None = None
    error: VenueErrorCode | None = None
    message: str = ""


# --------------------------------------------------------------------------- internal state


@dataclass(slots=True, eq=False)
class _Order:
    venue_order_id: str
    client_order_id: str
    account_id: str
    side: Side
    price: Decimal
    key: int  # price in ticks
    amount: Decimal
    tif: TimeInForce
    updated_at: float
    filled: Decimal = ZERO
    status: VenueOrderStatus = VenueOrderStatus.OPEN
    reason: str = ""

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled

    def view(self, symbol: str) -> VenueOrder:
        return VenueOrder(
            client_order_id=self.client_order_id,
            venue_order_id=self.venue_order_id,
            symbol=symbol,
            side=self.side,
            price=self.price,
            amount=self.amount,
            filled=self.filled,
            status=self.status,
            at=self.updated_at,
            reason=self.reason,
        )


@dataclass(slots=True)
class _Account:
    maker_fee: Decimal
    taker_fee: Decimal
    free: dict[str, Decimal]
    locked: dict[str, Decimal] = field(default_factory=dict)
    open: dict[str, _Order] = field(default_factory=dict)  # by venue order id
    open_by_cid: dict[str, _Order] = field(default_factory=dict)
    trades: deque[TradeRecord] = field(default_factory=deque)

    def add(self, book: dict[str, Decimal], asset: str, delta: Decimal) -> None:
        book[asset] = book.get(asset, ZERO) + delta


class _BookSide:
    """Price levels of one side: dict of FIFO queues plus a sorted key list, best key last.

    Asks are stored under negated tick keys so that for both sides "best" is the largest key
    and sits at the end of the list, where insert/remove/pop are cheapest."""

    __slots__ = ("_keys", "levels", "sign")

    def __init__(self, side: Side) -> None:
        self.sign = 1 if side is Side.BUY else -1
        self.levels: dict[int, deque[_Order]] = {}
        self._keys: list[int] = []

    def __bool__(self) -> bool:
        return bool(self._keys)

    def best(self) -> deque[_Order] | None:
        return self.levels[self._keys[-1]] if self._keys else None

    def best_key(self) -> int | None:
        """Best price in ticks (not negated), or None when the side is empty."""
        return self._keys[-1] * self.sign if self._keys else None

    def add(self, order: _Order) -> None:
        k = order.key * self.sign
        level = self.levels.get(k)
        if level is None:
            level = self.levels[k] = deque()
            bisect.insort(self._keys, k)
        level.append(order)

    def remove(self, order: _Order) -> None:
        k = order.key * self.sign
        level = self.levels[k]
        level.remove(order)
        if not level:
            self._drop(k)

    def drop_best(self) -> None:
        del self.levels[self._keys.pop()]

    def _drop(self, k: int) -> None:
        del self.levels[k]
        del self._keys[bisect.bisect_left(self._keys, k)]

    def iter_levels(self) -> Iterator[deque[_Order]]:
        """Levels best-first."""
        for k in reversed(self._keys):
            yield self.levels[k]

    def n_levels(self) -> int:
        return len(self._keys)


# --------------------------------------------------------------------------- the engine


class MatchingEngine:
    """One market's order book, accounts and trade tape (see the module docstring)."""

    def __init__(
        self,
        rules: MarketRules,
        *,
        history_limit: int = DEFAULT_HISTORY_LIMIT,
        trade_history_limit: int = DEFAULT_TRADE_HISTORY_LIMIT,
    ) -> None:
        self.rules = rules
        self.listeners: list[EngineListener] = []
        self.fees_collected: dict[str, Decimal] = {}
        self.self_trade_counts: Counter[str] = Counter()
        self.book_version = 0
        self._accounts: dict[str, _Account] = {}
        self._bids = _BookSide(Side.BUY)
        self._asks = _BookSide(Side.SELL)
        self._closed: OrderedDict[str, _Order] = OrderedDict()
        self._closed_by_cid: dict[tuple[str, str], str] = {}
        self._history_limit = history_limit
        self._trades: deque[TradeRecord] = deque(maxlen=trade_history_limit)
        self._trade_history_limit = trade_history_limit
        self._next_order_id = 1
        self._next_trade_id = 1
        self._pending: list[EngineEvent] = []

    # ----------------------------------------------------------------- accounts

    def add_account(
        self,
        account_id: str,
        balances: dict[str, Decimal],
        maker_fee: Decimal | None = None,
        taker_fee: Decimal | None = None,
    ) -> None:
        """Open an account with free balances; fee rates default to the market's."""
        if account_id in self._accounts:
            raise ValueError(f"account {account_id!r} already exists")
        for asset, amount in balances.items():
            if not isinstance(amount, Decimal) or not amount.is_finite() or amount < 0:
                raise ValueError(f"balance {asset}={amount!r} must be a finite Decimal >= 0")
        self._accounts[account_id] = _Account(
            maker_fee=self.rules.maker_fee if maker_fee is None else maker_fee,
            taker_fee=self.rules.taker_fee if taker_fee is None else taker_fee,
            free=dict(balances),
            trades=deque(maxlen=self._trade_history_limit),
        )

    @property
    def accounts(self) -> list[str]:
        return list(self._accounts)

    def balances(self, account_id: str) -> dict[str, Balance]:
        acct = self._account(account_id)
        assets = dict.fromkeys([*acct.free, *acct.locked])
        return {a: Balance(a, acct.free.get(a, ZERO), acct.locked.get(a, ZERO)) for a in assets}

    def asset_totals(self) -> dict[str, Decimal]:
        """Free + locked over all accounts plus collected fees: constant under every operation."""
        totals: dict[str, Decimal] = dict(self.fees_collected)
        for acct in self._accounts.values():
            for book in (acct.free, acct.locked):
                for asset, amount in book.items():
                    totals[asset] = totals.get(asset, ZERO) + amount
        return totals

    @property
    def self_trade_count(self) -> int:
        """Trades whose maker and taker were the same account, over the engine's lifetime."""
        return sum(self.self_trade_counts.values())

    # ----------------------------------------------------------------- book views

    @property
    def best_bid(self) -> Decimal | None:
        level = self._bids.best()
        return level[0].price if level else None

    @property
    def best_ask(self) -> Decimal | None:
        level = self._asks.best()
        return level[0].price if level else None

    @property
    def mid(self) -> Decimal | None:
        bid, ask = self.best_bid, self.best_ask
        return None if bid is None or ask is None else (bid + ask) / 2

    def depth(self, n: int = 50) -> tuple[list[BookLevel], list[BookLevel]]:
        """Top `n` aggregated levels per side, best first."""
        return self._aggregate(self._bids, n), self._aggregate(self._asks, n)

    @staticmethod
    def _aggregate(side: _BookSide, n: int) -> list[BookLevel]:
        out: list[BookLevel] = []
        for level in side.iter_levels():
            if len(out) >= n:
                break
            out.append(BookLevel(level[0].price, sum((o.remaining for o in level), ZERO)))
        return out

    def level_count(self) -> tuple[int, int]:
        return self._bids.n_levels(), self._asks.n_levels()

    # ----------------------------------------------------------------- order queries

    def open_orders(self, account_id: str) -> list[VenueOrder]:
        """Open orders of the account, oldest first."""
        acct = self._account(account_id)
        return [o.view(self.rules.symbol) for o in acct.open.values()]

    def get_order(
        self,
        account_id: str,
        venue_order_id: str | None = None,
        client_order_id: str | None = None,
    ) -> VenueOrder | None:
        """An open or recently closed order of the account (closed history is bounded)."""
        order = self._find(account_id, venue_order_id, client_order_id)
        return order.view(self.rules.symbol) if order else None

    def trades(
        self, account_id: str | None = None, since: float | None = None
    ) -> list[TradeRecord]:
        """Trades (of one account if given) with `at >= since`, oldest first."""
        tape = self._trades if account_id is None else self._account(account_id).trades
        if since is None:
            return list(tape)
        return [t for t in tape if t.at >= since]

    # ----------------------------------------------------------------- order entry

    def submit(
        self,
        account_id: str,
        client_order_id: str,
        side: Side,
        price: Decimal,
        amount: Decimal,
        tif: TimeInForce,
        now: float,
    ) -> SubmitResult:
        """Validate, lock, match and (GTC/post-only) rest a limit order."""
        acct = self._accounts.get(account_id)
        if acct is None:
            return _reject(VenueErrorCode.INVALID_ORDER, f"unknown account {account_id!r}")
        problem = self._validate(price, amount)
        if problem:
            return _reject(VenueErrorCode.INVALID_ORDER, problem)
        if client_order_id in acct.open_by_cid:
            return _reject(
                VenueErrorCode.INVALID_ORDER, f"client order id {client_order_id!r} is in use"
            )
        key = int(price / self.rules.tick_size)
        if tif is TimeInForce.POST_ONLY and self._would_take(side, key):
            return _reject(
                VenueErrorCode.POST_ONLY_WOULD_TAKE,
                f"post-only {side} at {price} would take "
                f"(bid {self.best_bid}, ask {self.best_ask})",
            )
        q = self.rules.quote
        b = self.rules.base
        lock_asset, lock_amount = (q, price * amount) if side is Side.BUY else (b, amount)
        if acct.free.get(lock_asset, ZERO) < lock_amount:
            return _reject(
                VenueErrorCode.INSUFFICIENT_FUNDS,
                f"needs {lock_amount} {lock_asset}, free {acct.free.get(lock_asset, ZERO)}",
            )

        acct.add(acct.free, lock_asset, -lock_amount)
        acct.add(acct.locked, lock_asset, lock_amount)
        order = _Order(
            venue_order_id=str(self._next_order_id),
            client_order_id=client_order_id,
            account_id=account_id,
            side=side,
            price=price,
            key=key,
            amount=amount,
            tif=tif,
            updated_at=now,
        )
        self._next_order_id += 1
        touched = {account_id}
        trades = self._match(order, acct, now, touched)

        if order.remaining == 0:
            order.status = VenueOrderStatus.FILLED
            self._archive(order)
        elif tif is TimeInForce.IOC:
            self._release(acct, order)
            order.status = VenueOrderStatus.CANCELED
            order.reason = "ioc expired" if not trades else "ioc remainder expired"
            self._archive(order)
        else:
            acct.open[order.venue_order_id] = order
            acct.open_by_cid[client_order_id] = order
            (self._bids if side is Side.BUY else self._asks).add(order)
        view = order.view(self.rules.symbol)
        self._emit(OrderChanged(account_id, view))
        for acc in sorted(touched):
            self._emit(BalancesChanged(acc, now))
        if trades or order.status is VenueOrderStatus.OPEN:
            self._book_changed(now)
        self._flush()
        return SubmitResult(view, trades=tuple(trades))

    def cancel(
        self,
        account_id: str,
        venue_order_id: str | None = None,
        client_order_id: str | None = None,
        *,
        now: float,
    ) -> CancelOutcome:
        """Cancel one open order by venue or client id and refund its lock."""
        acct = self._account(account_id)
        order = self._find(account_id, venue_order_id, client_order_id)
        if order is None:
            return CancelOutcome(
                False, error=VenueErrorCode.ORDER_NOT_FOUND, message="unknown order"
            )
        if order.status is not VenueOrderStatus.OPEN:
            return CancelOutcome(
                False,
                order=order.view(self.rules.symbol),
                error=VenueErrorCode.ORDER_NOT_FOUND,
                message=f"order is {order.status}",
            )
        view = self._cancel_open(acct, order, now)
        self._emit(BalancesChanged(account_id, now))
        self._book_changed(now)
        self._flush()
        return CancelOutcome(True, order=view)

    def cancel_all(self, account_id: str, now: float) -> list[VenueOrder]:
        """Cancel every open order of the account; returns their final states."""
        acct = self._account(account_id)
        views = [self._cancel_open(acct, o, now) for o in list(acct.open.values())]
        if views:
            self._emit(BalancesChanged(account_id, now))
            self._book_changed(now)
            self._flush()
        return views

    # ----------------------------------------------------------------- internals

    def _account(self, account_id: str) -> _Account:
        try:
            return self._accounts[account_id]
        except KeyError:
            raise KeyError(f"unknown account {account_id!r}") from None

    def _validate(self, price: Decimal, amount: Decimal) -> str:
        r = self.rules
        if not (price.is_finite() and amount.is_finite()):
            return "price and amount must be finite"
        if price <= 0:
            return f"price {price} must be > 0"
        if amount <= 0:
            return f"amount {amount} must be > 0"
        if price % r.tick_size != 0:
            return f"price {price} is not a multiple of tick size {r.tick_size}"
        if amount % r.lot_size != 0:
            return f"amount {amount} is not a multiple of lot size {r.lot_size}"
        if amount < r.min_amount:
            return f"amount {amount} is below the minimum {r.min_amount}"
        if price * amount < r.min_notional:
            return f"notional {price * amount} is below the minimum {r.min_notional}"
        return ""

    def _would_take(self, side: Side, key: int) -> bool:
        if side is Side.BUY:
            best = self._asks.best_key()
            return best is not None and best <= key
        best = self._bids.best_key()
        return best is not None and best >= key

    def _match(
        self, taker: _Order, taker_acct: _Account, now: float, touched: set[str]
    ) -> list[TradeRecord]:
        book = self._asks if taker.side is Side.BUY else self._bids
        trades: list[TradeRecord] = []
        while taker.remaining > 0:
            best = book.best_key()
            if best is None or not self._crosses(taker, best):
                break
            level = book.best()
            assert level is not None
            while level and taker.remaining > 0:
                maker = level[0]
                qty = min(taker.remaining, maker.remaining)
                maker_acct = self._accounts[maker.account_id]
                trades.append(self._execute(taker, taker_acct, maker, maker_acct, qty, now))
                touched.add(maker.account_id)
                if maker.remaining == 0:
                    level.popleft()
                    maker.status = VenueOrderStatus.FILLED
                    del maker_acct.open[maker.venue_order_id]
                    del maker_acct.open_by_cid[maker.client_order_id]
                    self._archive(maker)
                self._emit(OrderChanged(maker.account_id, maker.view(self.rules.symbol)))
            if not level:
                book.drop_best()
        return trades

    @staticmethod
    def _crosses(taker: _Order, best_key: int) -> bool:
        return best_key <= taker.key if taker.side is Side.BUY else best_key >= taker.key

    def _execute(
        self,
        taker: _Order,
        taker_acct: _Account,
        maker: _Order,
        maker_acct: _Account,
        qty: Decimal,
        now: float,
    ) -> TradeRecord:
        """Move the money for one match at the maker's price, and record the trade."""
        base, quote = self.rules.base, self.rules.quote
        price = maker.price
        notional = price * qty
        if taker.side is Side.BUY:
            buyer, buyer_acct, buyer_rate = taker, taker_acct, taker_acct.taker_fee
            seller_acct, seller_rate = maker_acct, maker_acct.maker_fee
        else:
            buyer, buyer_acct, buyer_rate = maker, maker_acct, maker_acct.maker_fee
            seller_acct, seller_rate = taker_acct, taker_acct.taker_fee
        base_fee = qty * buyer_rate
        quote_fee = notional * seller_rate

        buyer_acct.add(buyer_acct.locked, quote, -(buyer.price * qty))
        if buyer.price != price:  # a taker buy that traded below its limit
            buyer_acct.add(buyer_acct.free, quote, (buyer.price - price) * qty)
        buyer_acct.add(buyer_acct.free, base, qty - base_fee)
        seller_acct.add(seller_acct.locked, base, -qty)
        seller_acct.add(seller_acct.free, quote, notional - quote_fee)
        self.fees_collected[base] = self.fees_collected.get(base, ZERO) + base_fee
        self.fees_collected[quote] = self.fees_collected.get(quote, ZERO) + quote_fee

        taker.filled += qty
        maker.filled += qty
        taker.updated_at = maker.updated_at = now
        buyer_is_taker = taker.side is Side.BUY
        trade = TradeRecord(
            trade_id=str(self._next_trade_id),
            price=price,
            amount=qty,
            taker_side=taker.side,
            maker_account=maker.account_id,
            maker_order_id=maker.venue_order_id,
            maker_client_order_id=maker.client_order_id,
            taker_account=taker.account_id,
            taker_order_id=taker.venue_order_id,
            taker_client_order_id=taker.client_order_id,
            maker_fee=quote_fee if buyer_is_taker else base_fee,
            maker_fee_asset=quote if buyer_is_taker else base,
            taker_fee=base_fee if buyer_is_taker else quote_fee,
            taker_fee_asset=base if buyer_is_taker else quote,
            at=now,
        )
        self._next_trade_id += 1
        self._trades.append(trade)
        taker_acct.trades.append(trade)
        if maker_acct is not taker_acct:
            maker_acct.trades.append(trade)
        else:
            self.self_trade_counts[taker.account_id] += 1
        self._emit(TradeExecuted(trade))
        return trade

    def _release(self, acct: _Account, order: _Order) -> None:
        """Refund what an order still has locked."""
        if order.side is Side.BUY:
            asset, amount = self.rules.quote, order.price * order.remaining
        else:
            asset, amount = self.rules.base, order.remaining
        acct.add(acct.locked, asset, -amount)
        acct.add(acct.free, asset, amount)

    def _cancel_open(self, acct: _Account, order: _Order, now: float) -> VenueOrder:
        (self._bids if order.side is Side.BUY else self._asks).remove(order)
        del acct.open[order.venue_order_id]
        del acct.open_by_cid[order.client_order_id]
        self._release(acct, order)
        order.status = VenueOrderStatus.CANCELED
        order.updated_at = now
        self._archive(order)
        view = order.view(self.rules.symbol)
        self._emit(OrderChanged(order.account_id, view))
        return view

    def _archive(self, order: _Order) -> None:
        self._closed[order.venue_order_id] = order
        self._closed_by_cid[(order.account_id, order.client_order_id)] = order.venue_order_id
        while len(self._closed) > self._history_limit:
            vid, old = self._closed.popitem(last=False)
            ckey = (old.account_id, old.client_order_id)
            if self._closed_by_cid.get(ckey) == vid:
                del self._closed_by_cid[ckey]

    def _find(
        self, account_id: str, venue_order_id: str | None, client_order_id: str | None
    ) -> _Order | None:
        acct = self._account(account_id)
        if venue_order_id:
            order = acct.open.get(venue_order_id) or self._closed.get(venue_order_id)
            return order if order is not None and order.account_id == account_id else None
        if client_order_id is not None:
            order = acct.open_by_cid.get(client_order_id)
            if order is not None:
                return order
            vid = self._closed_by_cid.get((account_id, client_order_id))
            return self._closed.get(vid) if vid is not None else None
        raise ValueError("give venue_order_id or client_order_id")

    def _book_changed(self, now: float) -> None:
        self.book_version += 1
        self._emit(BookChanged(self.book_version, now))

    def _emit(self, event: EngineEvent) -> None:
        if self.listeners:
            self._pending.append(event)

    def _flush(self) -> None:
        """Deliver an operation's events only once its state changes are complete, so a
        listener may read balances or the book. A listener that raises propagates to the
        caller of the operation, which has already taken effect."""
        events, self._pending = self._pending, []
        for event in events:
            for listener in self.listeners:
                listener(event)


def _reject(code: VenueErrorCode, message: str) -> SubmitResult:
    return SubmitResult(None, error=code, message=message)
