"""The emulated Gate exchange: Gate's order model over the simulator's `MatchingEngine`.

Protocol-free on purpose (no aiohttp here): REST and WebSocket handlers call these methods and
turn `ApiError` into Gate's `{"label", "message"}` answers; pushes for the WebSocket channels
leave through `push` callbacks. Orders of API users get Gate ids, `text`, `finish_as`, fees
and amend semantics; third-party flow (liquidity providers and takers) comes from
`SyntheticMarket` on the scenario's market, so a bot gets real fills.

Deviations from Gate, kept small and documented in docs/exchange-sim.md:
- amend re-queues the order even when only the amount shrinks (Gate keeps its priority);
- STP checks own resting orders the new order crosses, before matching starts.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from agent.clock import Clock
from agent.exchange_sim.config import AccountSpec, EmulatorConfig
from agent.model import ZERO, MarketRules, Side, TimeInForce, VenueOrder, VenueOrderStatus
from agent.venues import gate
from agent.venues.base import VenueErrorCode
from agent.venues.sim.engine import (
    BalancesChanged,
    EngineEvent,
    MatchingEngine,
    OrderChanged,
    TradeExecuted,
    TradeRecord,
)
from agent.venues.sim.market import SyntheticMarket
from agent.venues.sim.scenarios import MarketSpec

CLOSED_HISTORY = 20_000
USER_TRADE_HISTORY = 50_000
PUBLIC_TRADE_HISTORY = 5_000
FIRST_ORDER_ID = 700_000_000_001


class ApiError(Exception):
    """A Gate error answer: HTTP status from the label unless given."""

    def __init__(self, label: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{label}: {message}")
        self.label = label
        self.message = message
        self.status = status if status is not None else gate.LABEL_STATUS.get(label, 400)

    def body(self) -> dict[str, str]:
        return {"label": self.label, "message": self.message}


def _dec(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ApiError("INVALID_PARAM_VALUE", f"invalid argument: {name}")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise ApiError("INVALID_PARAM_VALUE", f"invalid argument: {name}") from None
    if not d.is_finite():
        raise ApiError("INVALID_PARAM_VALUE", f"invalid argument: {name}")
    return d


def fmt(d: Decimal) -> str:
    """Decimal as Gate prints it: plain notation, no exponent, no trailing zeros."""
    if d == 0:
        return "0"
    s = format(d.normalize(), "f")
    return s


def _decimals(step: Decimal) -> int:
    """10^-k -> k; refuses steps Gate cannot express as a precision."""
    k = -step.normalize().as_tuple().exponent  # type: ignore[operator]
    k = max(0, int(k))
    if Decimal(1).scaleb(-k) != step:
        raise ValueError(f"step {step} is not a power of ten; Gate uses decimal precisions")
    return k


def _places(d: Decimal) -> int:
    exp = d.normalize().as_tuple().exponent
    return max(0, -int(exp))


@dataclass(slots=True)
class Market:
    """One listed currency pair and its engine."""

    pair: str
    spec: MarketSpec
    rules: MarketRules
    engine: MatchingEngine
    amount_precision: int
    price_precision: int
    synthetic: SyntheticMarket | None = None
    update_id: int = 1  # the `id` of REST with_id snapshots and legacy `u`
    tape: deque[TradeRecord] = field(default_factory=lambda: deque(maxlen=PUBLIC_TRADE_HISTORY))
    day: deque[tuple[float, Decimal, Decimal]] = field(default_factory=deque)  # (at, px, qty)


@dataclass(slots=True)
class Account:
    spec: AccountSpec
    uid: int
    engine_id: str
    closed: deque[GateOrder] = field(default_factory=lambda: deque(maxlen=CLOSED_HISTORY))
    trades: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=USER_TRADE_HISTORY))
    pushed: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    countdowns: dict[str, asyncio.TimerHandle] = field(default_factory=dict)


@dataclass(slots=True)
class GateOrder:
    """A user order as Gate reports it; survives amends (which re-create it in the engine)."""

    id: str
    uid: int
    pair: str
    text: str
    side: Side
    type: str
    price: Decimal
    amount: Decimal
    tif: str
    create_ms: int
    engine_cid: str
    stp_id: int = 0
    stp_act: str = "-"
    update_ms: int = 0
    status: str = "open"  # open | closed | cancelled
    finish_as: str = "open"
    filled: Decimal = ZERO
    prior_filled: Decimal = ZERO  # fills of earlier incarnations (before amends)
    filled_total: Decimal = ZERO
    fee: Decimal = ZERO
    fee_currency: str = ""
    amend_text: str = "-"
    amending: bool = False
    put_sent: bool = False
    finish_reason: str = ""  # finish_as to use when the engine cancels it (ioc, fok, stp)

    @property
    def left(self) -> Decimal:
        if self.type == "market":
            return ZERO
        return self.amount - self.filled

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def to_json(self) -> dict[str, Any]:
        avg = self.filled_total / self.filled if self.filled > 0 else ZERO
        return {
            "id": self.id,
            "text": self.text,
            "amend_text": self.amend_text,
            "create_time": str(self.create_ms // 1000),
            "update_time": str(self.update_ms // 1000),
            "create_time_ms": self.create_ms,
            "update_time_ms": self.update_ms,
            "status": self.status,
            "currency_pair": self.pair,
            "type": self.type,
            "account": "spot",
            "side": self.side.value,
            "amount": fmt(self.amount),
            "price": fmt(self.price) if self.type == "limit" else "0",
            "time_in_force": self.tif,
            "iceberg": "0",
            "left": fmt(self.left),
            "filled_amount": fmt(self.filled),
            "fill_price": fmt(self.filled_total),
            "filled_total": fmt(self.filled_total),
            "avg_deal_price": fmt(avg),
            "fee": fmt(self.fee),
            "fee_currency": self.fee_currency,
            "point_fee": "0",
            "gt_fee": "0",
            "gt_maker_fee": "0",
            "gt_taker_fee": "0",
            "gt_discount": False,
            "rebated_fee": "0",
            "rebated_fee_currency": self.fee_currency,
            "stp_id": self.stp_id,
            "stp_act": self.stp_act,
            "finish_as": self.finish_as,
        }


PushSink = Callable[[str, int | None, str | None, Any], None]
"""push(channel, uid or None for public, pair or None, result)."""


class GateExchange:
    """Markets, accounts and Gate's order model; see the module docstring."""

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.markets: dict[str, Market] = {}
        self.accounts: dict[str, Account] = {}  # by API key
        self.by_uid: dict[int, Account] = {}
        self.orders: dict[str, GateOrder] = {}  # open orders by Gate id
        self._by_engine_cid: dict[str, GateOrder] = {}
        self._by_id_any: dict[str, GateOrder] = {}  # open and recent closed, by Gate id
        self._ids = itertools.count(FIRST_ORDER_ID)
        self._cid_seq = itertools.count(1)
        self._user_trade_seq = itertools.count(1)
        self.push: PushSink | None = None
        self.stats: dict[str, int] = {"orders_created": 0, "orders_rejected": 0}
        self._started = False

    # ----------------------------------------------------------------- setup

    def start(self) -> None:
        """Create engines and accounts, seed the synthetic book, start its actors."""
        if self._started:
            raise RuntimeError("exchange already started")
        self._started = True
        for i, spec in enumerate(self.config.markets):
            rules = spec.rules()
            pair = rules.symbol.replace("/", "_")
            if pair in self.markets:
                raise ValueError(f"market {pair} listed twice")
            engine = MatchingEngine(rules)
            m = Market(
                pair=pair,
                spec=spec,
                rules=rules,
                engine=engine,
                amount_precision=_decimals(rules.lot_size),
                price_precision=_decimals(rules.tick_size),
            )
            self.markets[pair] = m
            engine.listeners.append(self._listener(m))
            if i == 0 and self.config.synthetic_flow:
                m.synthetic = SyntheticMarket(
                    engine, self.config.scenario, seed=self.config.seed, clock=self.clock
                )
        for acct_spec in self.config.accounts:
            self.add_account(acct_spec)
        for m in self.markets.values():
            if m.synthetic is not None:
                m.synthetic.setup()
                m.synthetic.start()

    def add_account(self, spec: AccountSpec) -> Account:
        if spec.key in self.accounts:
            raise ValueError(f"API key {spec.key!r} is configured twice")
        uid = spec.user_id
        acct = Account(spec=spec, uid=uid, engine_id=f"user-{uid}")
        self.accounts[spec.key] = acct
        self.by_uid[uid] = acct
        # Each engine is one market: with extra markets listed, every market gets its own copy
        # of the balances (a documented simplification; the scenario's market is the wallet
        # /spot/accounts reports).
        for m in self.markets.values():
            m.engine.add_account(acct.engine_id, dict(spec.balances))
        return acct

    async def stop(self) -> None:
        for acct in self.accounts.values():
            for handle in acct.countdowns.values():
                handle.cancel()
            acct.countdowns.clear()
        for m in self.markets.values():
            if m.synthetic is not None:
                await m.synthetic.stop()

    # ----------------------------------------------------------------- helpers

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def market(self, pair: str | None) -> Market:
        if not pair:
            raise ApiError("INVALID_PARAM_VALUE", "currency_pair is required")
        m = self.markets.get(pair)
        if m is None:
            raise ApiError("INVALID_CURRENCY_PAIR", f"Invalid currency pair {pair}")
        return m

    def account(self, key: str) -> Account | None:
        return self.accounts.get(key)

    def _primary(self) -> Market:
        return next(iter(self.markets.values()))

    # ----------------------------------------------------------------- public data

    def currencies(self) -> list[dict[str, Any]]:
        seen: dict[str, None] = {}
        for m in self.markets.values():
            seen.setdefault(m.rules.base)
            seen.setdefault(m.rules.quote)
        return [self.currency(c) for c in seen]

    def currency(self, code: str) -> dict[str, Any]:
        codes = {c for m in self.markets.values() for c in (m.rules.base, m.rules.quote)}
        if code not in codes:
            raise ApiError("INVALID_CURRENCY", f"Invalid currency {code}")
        return {
            "currency": code,
            "name": code,
            "delisted": False,
            "withdraw_disabled": False,
            "withdraw_delayed": False,
            "deposit_disabled": False,
            "trade_disabled": False,
            "fixed_rate": "",
            "chain": "ETH",
            "chains": [
                {
                    "name": "ETH",
                    "addr": "",
                    "withdraw_disabled": False,
                    "withdraw_delayed": False,
                    "deposit_disabled": False,
                }
            ],
        }

    def currency_pair(self, m: Market) -> dict[str, Any]:
        r = m.rules
        fee_pct = r.taker_fee * 100
        return {
            "id": m.pair,
            "base": r.base,
            "base_name": r.base,
            "quote": r.quote,
            "quote_name": r.quote,
            "fee": fmt(fee_pct),
            "maker_fee_rate": fmt(r.maker_fee * 100),
            "min_base_amount": fmt(max(r.min_amount, r.lot_size)),
            "min_quote_amount": fmt(r.min_notional),
            "max_base_amount": "",
            "max_quote_amount": "",
            "amount_precision": m.amount_precision,
            "precision": m.price_precision,
            "trade_status": "tradable",
            "sell_start": 0,
            "buy_start": 0,
            "delisting_time": 0,
            "type": "normal",
            "trade_url": "",
            "st_tag": False,
        }

    def currency_pairs(self) -> list[dict[str, Any]]:
        return [self.currency_pair(m) for m in self.markets.values()]

    def order_book(self, pair: str, limit: int, with_id: bool) -> dict[str, Any]:
        m = self.market(pair)
        bids, asks = m.engine.depth(limit)
        now = self.now_ms()
        out: dict[str, Any] = {}
        if with_id:
            out["id"] = m.update_id
        out.update(
            current=now,
            update=now,
            asks=[[fmt(lv.price), fmt(lv.amount)] for lv in asks],
            bids=[[fmt(lv.price), fmt(lv.amount)] for lv in bids],
        )
        return out

    def _day_stats(self, m: Market) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal | None]:
        cutoff = self.clock.now() - 86400
        while m.day and m.day[0][0] < cutoff:
            m.day.popleft()
        base_vol = sum((q for _, _, q in m.day), ZERO)
        quote_vol = sum((p * q for _, p, q in m.day), ZERO)
        high = max((p for _, p, _ in m.day), default=ZERO)
        low = min((p for _, p, _ in m.day), default=ZERO)
        first = m.day[0][1] if m.day else None
        return base_vol, quote_vol, high, low, first

    def ticker(self, m: Market) -> dict[str, Any]:
        base_vol, quote_vol, high, low, first = self._day_stats(m)
        last = m.tape[-1].price if m.tape else m.spec.initial_price
        change = (last - first) / first * 100 if first else ZERO
        bid, ask = m.engine.best_bid, m.engine.best_ask
        return {
            "currency_pair": m.pair,
            "last": fmt(last),
            "lowest_ask": fmt(ask) if ask is not None else "",
            "lowest_size": "",
            "highest_bid": fmt(bid) if bid is not None else "",
            "highest_size": "",
            "change_percentage": fmt(change.quantize(Decimal("0.01"))),
            "base_volume": fmt(base_vol),
            "quote_volume": fmt(quote_vol),
            "high_24h": fmt(high or last),
            "low_24h": fmt(low or last),
        }

    def tickers(self, pair: str | None) -> list[dict[str, Any]]:
        if pair:
            return [self.ticker(self.market(pair))]
        return [self.ticker(m) for m in self.markets.values()]

    def public_trades(self, pair: str, limit: int) -> list[dict[str, Any]]:
        m = self.market(pair)
        out = [self.public_trade_json(m, t) for t in list(m.tape)[-limit:]]
        out.reverse()
        return out

    @staticmethod
    def public_trade_json(m: Market, t: TradeRecord) -> dict[str, Any]:
        ms = int(t.at * 1000)
        return {
            "id": t.trade_id,
            "create_time": str(ms // 1000),
            "create_time_ms": f"{ms}.000",
            "currency_pair": m.pair,
            "side": t.taker_side.value,
            "amount": fmt(t.amount),
            "price": fmt(t.price),
            "range": f"{t.trade_id}-{t.trade_id}",
        }

    # ----------------------------------------------------------------- balances

    def balances(self, acct: Account, currency: str | None = None) -> list[dict[str, Any]]:
        totals = self._balance_map(acct)
        rows = [
            {"currency": c, "available": fmt(free), "locked": fmt(locked), "update_id": 1}
            for c, (free, locked) in totals.items()
        ]
        if currency:
            rows = [r for r in rows if r["currency"] == currency]
        return rows

    def _balance_map(self, acct: Account) -> dict[str, tuple[Decimal, Decimal]]:
        """Free/locked per currency, from the scenario market's engine (see `add_account`)."""
        out: dict[str, tuple[Decimal, Decimal]] = {}
        for asset, b in self._primary().engine.balances(acct.engine_id).items():
            out[asset] = (b.free, b.locked)
        return out

    # ----------------------------------------------------------------- orders: entry

    def create_order(self, acct: Account, req: dict[str, Any]) -> GateOrder:
        """Validate and place one order; raises ApiError for a refused order."""
        if not isinstance(req, dict):
            raise ApiError("INVALID_PARAM_VALUE", "order must be an object")
        m = self.market(req.get("currency_pair"))
        account_type = req.get("account", "spot")
        if account_type not in ("spot", None, ""):
            raise ApiError("INVALID_PARAM_VALUE", f"account {account_type} is not supported")
        side_s = req.get("side")
        if side_s not in ("buy", "sell"):
            raise ApiError("INVALID_PARAM_VALUE", "invalid argument: side")
        side = Side(side_s)
        otype = req.get("type", "limit") or "limit"
        if otype not in ("limit", "market"):
            raise ApiError("INVALID_PARAM_VALUE", "invalid argument: type")
        if str(req.get("iceberg", "0") or "0") not in ("0", "0.0"):
            raise ApiError("INVALID_PARAM_VALUE", "iceberg orders are not supported here")
        text = req.get("text") or gate.DEFAULT_TEXT_REST
        if not isinstance(text, str) or (
            text != gate.DEFAULT_TEXT_REST and not gate.TEXT_RE.match(text)
        ):
            raise ApiError(
                "INVALID_PARAM_VALUE",
                "text must start with t- and have at most 28 of [0-9A-Za-z_.-] after it",
            )
        tif = str(req.get("time_in_force") or ("gtc" if otype == "limit" else "ioc")).lower()
        if tif not in ("gtc", "ioc", "poc", "fok"):
            raise ApiError("INVALID_PARAM_VALUE", "invalid argument: time_in_force")
        if otype == "market" and tif not in ("ioc", "fok"):
            raise ApiError("INVALID_PARAM_VALUE", "market orders must be ioc or fok")
        stp_act = req.get("stp_act")
        if stp_act is not None:
            if acct.spec.stp_id == 0:
                raise ApiError(
                    "INVALID_PARAM_VALUE", "stp_act is only allowed for users in an STP group"
                )
            if stp_act not in ("cn", "co", "cb"):
                raise ApiError("INVALID_PARAM_VALUE", "invalid argument: stp_act")
        elif acct.spec.stp_id:
            stp_act = "cn"
        amount = _dec(req.get("amount"), "amount")
        if amount <= 0:
            raise ApiError("INVALID_PARAM_VALUE", "invalid argument: amount")
        rules = m.rules
        if otype == "limit":
            price = _dec(req.get("price"), "price")
            if price <= 0:
                raise ApiError("INVALID_PARAM_VALUE", "invalid argument: price")
            self._check_precision(m, price, amount)
            self._check_minimums(m, price, amount)
        else:
            price = ZERO
        now = self.now_ms()
        order = GateOrder(
            id=str(next(self._ids)),
            uid=acct.uid,
            pair=m.pair,
            text=text,
            side=side,
            type=otype,
            price=price,
            amount=amount,
            tif=tif,
            create_ms=now,
            update_ms=now,
            engine_cid=f"{acct.uid}:{next(self._cid_seq)}",
            stp_id=acct.spec.stp_id,
            stp_act=stp_act or "-",
            fee_currency=rules.base if side is Side.BUY else rules.quote,
        )
        if otype == "market":
            return self._market_order(acct, m, order)
        if stp_act is not None and self._stp(acct, m, order, stp_act):
            return order
        if tif == "fok" and not self._fok_fillable(m, side, price, amount):
            return self._finish_unplaced(acct, order, "fok")
        return self._submit(acct, m, order, price, amount, _tif(tif))

    def _check_precision(self, m: Market, price: Decimal, amount: Decimal) -> None:
        if _places(amount) > m.amount_precision:
            raise ApiError(
                "INVALID_PRECISION",
                f"Invalid precision: amount {amount} has more than {m.amount_precision} decimals",
            )
        if _places(price) > m.price_precision:
            raise ApiError(
                "INVALID_PRECISION",
                f"Invalid precision: price {price} has more than {m.price_precision} decimals",
            )

    def _check_minimums(self, m: Market, price: Decimal, amount: Decimal) -> None:
        r = m.rules
        if amount < r.min_amount:
            raise ApiError(
                "AMOUNT_TOO_LITTLE", f"Your order amount {amount} is less than {r.min_amount}"
            )
        if price * amount < r.min_notional:
            raise ApiError(
                "INVALID_PARAM_VALUE",
                f"Your order size {fmt(price * amount)} {r.quote} is too small. "
                f"The minimum is {fmt(r.min_notional)} {r.quote}",
            )

    def _fok_fillable(self, m: Market, side: Side, price: Decimal, amount: Decimal) -> bool:
        bids, asks = m.engine.depth(10_000)
        levels = asks if side is Side.BUY else bids
        have = ZERO
        for lv in levels:
            if (side is Side.BUY and lv.price > price) or (side is Side.SELL and lv.price < price):
                break
            have += lv.amount
            if have >= amount:
                return True
        return False

    def _market_order(self, acct: Account, m: Market, order: GateOrder) -> GateOrder:
        """Market orders: a sell is `amount` base at any price, a buy spends `amount` quote.
        Both run as IOC limit orders at the price that reaches far enough into the book."""
        rules = m.rules
        bids, asks = m.engine.depth(10_000)
        if order.side is Side.SELL:
            base = order.amount
            if _places(base) > m.amount_precision:
                raise ApiError("INVALID_PRECISION", "Invalid precision: amount")
            limit = rules.tick_size
            if not bids:
                return self._finish_unplaced(acct, order, "depth_not_enough")
        else:
            budget = order.amount
            if budget < rules.min_notional:
                raise ApiError(
                    "INVALID_PARAM_VALUE",
                    f"Your order size {fmt(budget)} {rules.quote} is too small. "
                    f"The minimum is {fmt(rules.min_notional)} {rules.quote}",
                )
            base, spend, limit = ZERO, ZERO, ZERO
            for lv in asks:
                room = rules.floor_amount((budget - spend) / lv.price)
                take = min(room, lv.amount)
                if take <= 0:
                    break
                base += take
                spend += take * lv.price
                limit = lv.price
            if base <= 0:
                return self._finish_unplaced(acct, order, "depth_not_enough")
        order.finish_reason = "filled"
        tif = TimeInForce.IOC
        result = self._submit(acct, m, order, limit, base, tif, market=True)
        return result

    def _finish_unplaced(self, acct: Account, order: GateOrder, finish_as: str) -> GateOrder:
        """An order Gate accepts and closes at once without trading (fok, poc, stp...)."""
        order.status = "cancelled"
        order.finish_as = finish_as
        order.update_ms = self.now_ms()
        self._archive(acct, order)
        self._push_order(order, "put")
        self._push_order(order, "finish")
        return order

    def _submit(
        self,
        acct: Account,
        m: Market,
        order: GateOrder,
        price: Decimal,
        amount: Decimal,
        tif: TimeInForce,
        *,
        market: bool = False,
    ) -> GateOrder:
        self._by_engine_cid[order.engine_cid] = order
        self._by_id_any[order.id] = order
        if tif is TimeInForce.IOC and not market:
            order.finish_reason = "ioc"
        res = m.engine.submit(
            acct.engine_id, order.engine_cid, order.side, price, amount, tif, self.clock.now()
        )
        if res.error is not None:
            del self._by_engine_cid[order.engine_cid]
            del self._by_id_any[order.id]
            self.stats["orders_rejected"] += 1
            if res.error is VenueErrorCode.POST_ONLY_WOULD_TAKE:
                if self.config.poc_reject_with_label:
                    raise ApiError(
                        "POC_FILL_IMMEDIATELY",
                        "Order would match and take immediately so it's cancelled",
                    )
                self._by_id_any[order.id] = order
                return self._finish_unplaced(acct, order, "poc")
            if res.error is VenueErrorCode.INSUFFICIENT_FUNDS:
                raise ApiError("BALANCE_NOT_ENOUGH", "Not enough balance")
            raise ApiError("INVALID_PARAM_VALUE", res.message)
        self.stats["orders_created"] += 1
        if market and order.is_open:
            # a market order never rests: the engine closed it as filled or ioc
            pass
        return order

    def _stp(self, acct: Account, m: Market, order: GateOrder, act: str) -> bool:
        """Self-trade prevention before matching; True when the new order was cancelled."""
        crossing = [
            o
            for o in self.orders.values()
            if o.uid == acct.uid
            and o.pair == m.pair
            and o.side is not order.side
            and (
                (order.side is Side.BUY and o.price <= order.price)
                or (order.side is Side.SELL and o.price >= order.price)
            )
        ]
        if not crossing:
            return False
        if act in ("co", "cb"):
            for o in crossing:
                o.finish_reason = "stp"
                self._engine_cancel(acct, o)
        if act in ("cn", "cb"):
            self._finish_unplaced(acct, order, "stp")
            return True
        return False

    # ----------------------------------------------------------------- orders: changes

    def find(self, acct: Account, order_id: str, pair: str | None) -> GateOrder:
        """By Gate id (open or recently closed), or by `text` while the order is open."""
        o = self._by_id_any.get(order_id)
        if o is not None and o.uid == acct.uid:
            return o
        if order_id.startswith("t-"):
            for o in self.orders.values():
                if o.uid == acct.uid and o.text == order_id and (pair is None or o.pair == pair):
                    return o
        raise ApiError("ORDER_NOT_FOUND", "Order not found")

    def cancel_order(self, acct: Account, order_id: str, pair: str | None) -> GateOrder:
        o = self.find(acct, order_id, pair)
        if not o.is_open:
            if o.status == "closed":
                raise ApiError("ORDER_CLOSED", "Order has been filled")
            raise ApiError("ORDER_CANCELLED", "Order has been cancelled")
        self._engine_cancel(acct, o)
        return o

    def _engine_cancel(self, acct: Account, o: GateOrder) -> None:
        m = self.markets[o.pair]
        m.engine.cancel(acct.engine_id, client_order_id=o.engine_cid, now=self.clock.now())

    def cancel_all(self, acct: Account, pair: str | None, side: str | None) -> list[GateOrder]:
        if pair:
            self.market(pair)
        out = []
        for o in list(self.orders.values()):
            if o.uid != acct.uid or (pair and o.pair != pair):
                continue
            if side and o.side.value != side:
                continue
            self._engine_cancel(acct, o)
            out.append(o)
        return out

    def amend(self, acct: Account, order_id: str, params: dict[str, Any]) -> GateOrder:
        """PATCH: new price and/or amount (the new total). Re-queues the order."""
        pair = params.get("currency_pair")
        o = self.find(acct, order_id, pair)
        if not o.is_open:
            raise ApiError("ORDER_CLOSED" if o.status == "closed" else "ORDER_CANCELLED", "closed")
        if o.type != "limit":
            raise ApiError("INVALID_PARAM_VALUE", "only limit orders can be amended")
        m = self.markets[o.pair]
        new_price = _dec(params["price"], "price") if params.get("price") else o.price
        new_amount = _dec(params["amount"], "amount") if params.get("amount") else o.amount
        if new_price <= 0 or new_amount <= 0:
            raise ApiError("INVALID_PARAM_VALUE", "price and amount must be > 0")
        self._check_precision(m, new_price, new_amount)
        amend_text = str(params.get("amend_text") or "-")
        if new_amount <= o.filled:
            o.amend_text = amend_text
            self._engine_cancel(acct, o)
            return o
        remaining = new_amount - o.filled
        self._check_minimums(m, new_price, max(remaining, m.rules.lot_size))
        if o.tif == "poc":
            bid, ask = m.engine.best_bid, m.engine.best_ask
            if (o.side is Side.BUY and ask is not None and new_price >= ask) or (
                o.side is Side.SELL and bid is not None and new_price <= bid
            ):
                raise ApiError(
                    "POC_FILL_IMMEDIATELY",
                    "Order would match and take immediately so it's cancelled",
                )
        free, locked_now = self._free_and_own_lock(acct, m, o)
        need = new_price * remaining if o.side is Side.BUY else remaining
        if need > free + locked_now:
            raise ApiError("BALANCE_NOT_ENOUGH", "Not enough balance")
        o.amending = True
        try:
            m.engine.cancel(acct.engine_id, client_order_id=o.engine_cid, now=self.clock.now())
            del self._by_engine_cid[o.engine_cid]
            o.prior_filled = o.filled
            o.price, o.amount, o.amend_text = new_price, new_amount, amend_text
            o.engine_cid = f"{acct.uid}:{next(self._cid_seq)}"
            self._by_engine_cid[o.engine_cid] = o
            res = m.engine.submit(
                acct.engine_id,
                o.engine_cid,
                o.side,
                new_price,
                remaining,
                _tif(o.tif),
                self.clock.now(),
            )
        finally:
            o.amending = False
        if res.error is not None:  # cannot happen after the checks above; never leave it open
            o.status, o.finish_as = "cancelled", "cancelled"
            self._close(acct, o)
        return o

    def _free_and_own_lock(self, acct: Account, m: Market, o: GateOrder) -> tuple[Decimal, Decimal]:
        bal = m.engine.balances(acct.engine_id)
        if o.side is Side.BUY:
            free = bal.get(m.rules.quote)
            return (free.free if free else ZERO), o.price * o.left
        free = bal.get(m.rules.base)
        return (free.free if free else ZERO), o.left

    # ----------------------------------------------------------------- orders: queries

    def open_orders(self, acct: Account, pair: str | None = None) -> list[GateOrder]:
        return [
            o for o in self.orders.values() if o.uid == acct.uid and (not pair or o.pair == pair)
        ]

    def finished_orders(
        self, acct: Account, pair: str, since: float | None, until: float | None
    ) -> list[GateOrder]:
        out = []
        for o in reversed(acct.closed):
            if o.pair != pair:
                continue
            if since is not None and o.update_ms < since * 1000:
                continue
            if until is not None and o.update_ms > until * 1000:
                continue
            out.append(o)
        return out

    def my_trades(
        self,
        acct: Account,
        pair: str | None,
        order_id: str | None,
        since: float | None,
        until: float | None,
    ) -> list[dict[str, Any]]:
        """Newest first, as Gate pages them."""
        out = []
        for t in reversed(acct.trades):
            if pair and t["currency_pair"] != pair:
                continue
            if order_id and t["order_id"] != order_id:
                continue
            at = int(t["create_time"])
            if since is not None and at < since:
                continue
            if until is not None and at > until:
                continue
            out.append(t)
        return out

    # ----------------------------------------------------------------- dead-man switch

    def countdown(self, acct: Account, timeout: int, pair: str | None) -> int:
        """Arm (or with 0 disarm) the countdown; returns the trigger time in ms (0 if off)."""
        if pair:
            self.market(pair)
        key = pair or "*"
        old = acct.countdowns.pop(key, None)
        if old is not None:
            old.cancel()
        if timeout == 0:
            return 0
        if timeout < gate.DEAD_MAN_MIN_SECONDS:
            raise ApiError(
                "INVALID_PARAM_VALUE", f"timeout must be 0 or >= {gate.DEAD_MAN_MIN_SECONDS}"
            )
        loop = asyncio.get_running_loop()
        acct.countdowns[key] = loop.call_later(timeout, self._countdown_fired, acct, pair, key)
        return self.now_ms() + timeout * 1000

    def _countdown_fired(self, acct: Account, pair: str | None, key: str) -> None:
        acct.countdowns.pop(key, None)
        cancelled = self.cancel_all(acct, pair, None)
        self.stats["countdown_cancels"] = self.stats.get("countdown_cancels", 0) + len(cancelled)

    # ----------------------------------------------------------------- engine events

    def _listener(self, m: Market) -> Callable[[EngineEvent], None]:
        return lambda ev: self._on_engine_event(m, ev)

    def _on_engine_event(self, m: Market, ev: EngineEvent) -> None:
        if isinstance(ev, TradeExecuted):
            self._on_trade(m, ev.trade)
        elif isinstance(ev, OrderChanged):
            o = self._by_engine_cid.get(ev.order.client_order_id)
            if o is not None:
                self._on_order(m, o, ev.order)
        elif isinstance(ev, BalancesChanged):
            acct = self._acct_by_engine_id(ev.account_id)
            if acct is not None:
                self._push_balances(acct)

    def _acct_by_engine_id(self, engine_id: str) -> Account | None:
        if not engine_id.startswith("user-"):
            return None
        try:
            return self.by_uid.get(int(engine_id[5:]))
        except ValueError:
            return None

    def _on_trade(self, m: Market, t: TradeRecord) -> None:
        m.tape.append(t)
        m.day.append((t.at, t.price, t.amount))
        if self.push is not None:
            self.push("spot.trades", None, m.pair, self.public_trade_json(m, t))
        for role, cid, fee, fee_asset in (
            ("taker", t.taker_client_order_id, t.taker_fee, t.taker_fee_asset),
            ("maker", t.maker_client_order_id, t.maker_fee, t.maker_fee_asset),
        ):
            o = self._by_engine_cid.get(cid)
            if o is None:
                continue
            acct = self.by_uid[o.uid]
            o.filled_total += t.price * t.amount
            o.fee += fee
            o.fee_currency = fee_asset
            ms = int(t.at * 1000)
            row = {
                "id": t.trade_id,
                "create_time": str(ms // 1000),
                "create_time_ms": f"{ms}.000000",
                "currency_pair": m.pair,
                "side": t.taker_side.value if role == "taker" else t.taker_side.opposite.value,
                "role": role,
                "amount": fmt(t.amount),
                "price": fmt(t.price),
                "order_id": o.id,
                "fee": fmt(fee),
                "fee_currency": fee_asset,
                "point_fee": "0",
                "gt_fee": "0",
                "amend_text": o.amend_text,
                "sequence_id": str(next(self._user_trade_seq)),
                "text": o.text,
            }
            acct.trades.append(row)
            if self.push is not None:
                ws_row = {
                    "id": int(t.trade_id),
                    "user_id": acct.uid,
                    "order_id": o.id,
                    "currency_pair": m.pair,
                    "create_time": ms // 1000,
                    "create_time_ms": f"{ms}.000",
                    "side": row["side"],
                    "amount": row["amount"],
                    "role": role,
                    "price": row["price"],
                    "fee": row["fee"],
                    "fee_currency": fee_asset,
                    "point_fee": "0",
                    "gt_fee": "0",
                    "text": o.text,
                    "amend_text": o.amend_text,
                    "biz_info": "",
                }
                self.push("spot.usertrades", acct.uid, m.pair, [ws_row])

    def _on_order(self, m: Market, o: GateOrder, view: VenueOrder) -> None:
        if o.amending and view.status is VenueOrderStatus.CANCELED:
            return  # the old incarnation of an amended order: not a finish
        o.filled = o.prior_filled + view.filled
        o.update_ms = int(view.at * 1000)
        acct = self.by_uid[o.uid]
        if view.status is VenueOrderStatus.OPEN:
            if o.id not in self.orders:
                self.orders[o.id] = o
                self._push_order(o, "put")
            else:
                self._push_order(o, "update")
            return
        if view.status is VenueOrderStatus.FILLED:
            o.status, o.finish_as = "closed", "filled"
        else:
            o.status = "cancelled"
            o.finish_as = o.finish_reason or "cancelled"
            if o.finish_reason == "filled":  # a market order's unfilled rest
                o.status = "closed" if o.filled > 0 else "cancelled"
                o.finish_as = "filled" if o.filled > 0 else "depth_not_enough"
        if not o.put_sent:
            self._push_order(o, "put")
        self._close(acct, o)

    def _close(self, acct: Account, o: GateOrder) -> None:
        self.orders.pop(o.id, None)
        self._by_engine_cid.pop(o.engine_cid, None)
        self._archive(acct, o)
        self._push_order(o, "finish")

    def _archive(self, acct: Account, o: GateOrder) -> None:
        if len(acct.closed) == acct.closed.maxlen:
            old = acct.closed[0]
            self._by_id_any.pop(old.id, None)
        acct.closed.append(o)
        self._by_id_any[o.id] = o

    def _push_order(self, o: GateOrder, event: str) -> None:
        if event == "put":
            o.put_sent = True
        if self.push is None:
            return
        body = o.to_json()
        if event == "put":
            body.update(status="open", finish_as="open")
        body.update(user=o.uid, event=event, biz_info="")
        self.push("spot.orders", o.uid, o.pair, [body])

    def _push_balances(self, acct: Account) -> None:
        now = self.now_ms()
        rows = []
        for asset, (free, locked) in self._balance_map(acct).items():
            prev = acct.pushed.get(asset)
            if prev == (free, locked):
                continue
            pfree, plocked = prev if prev is not None else (ZERO, ZERO)
            acct.pushed[asset] = (free, locked)
            rows.append(
                {
                    "timestamp": str(now // 1000),
                    "timestamp_ms": str(now),
                    "user": str(acct.uid),
                    "currency": asset,
                    "change": fmt((free + locked) - (pfree + plocked)),
                    "total": fmt(free + locked),
                    "available": fmt(free),
                    "freeze": fmt(locked),
                    "freeze_change": fmt(locked - plocked),
                    "change_type": "order-update",
                }
            )
        if rows and self.push is not None:
            self.push("spot.balances", acct.uid, None, rows)

    # ----------------------------------------------------------------- views for the WS hub

    def depth(self, pair: str, n: int) -> tuple[list[list[str]], list[list[str]]]:
        bids, asks = self.markets[pair].engine.depth(n)
        return (
            [[fmt(lv.price), fmt(lv.amount)] for lv in bids],
            [[fmt(lv.price), fmt(lv.amount)] for lv in asks],
        )


def _tif(tif: str) -> TimeInForce:
    if tif == "poc":
        return TimeInForce.POST_ONLY
    if tif in ("ioc", "fok"):
        return TimeInForce.IOC
    return TimeInForce.GTC
