"""`CcxtVenue`: any ccxt spot exchange as a `Venue`, with Gate as the first certified venue.

Async ccxt for REST (snapshots, orders, reconciliation, fallback) and ccxt.pro WebSockets for
the book, public trades, own orders, own trades and balances where `has` says the venue has
them. On top of ccxt it adds what a market maker needs and ccxt does not do:
- capabilities from `has`/`features`, and a clean refusal of what the venue cannot do;
- our own rate budget per endpoint class (`agent.venues.ratelimit`), a shared back-off after a
  429, reported as `StreamStatus("rate_limit", up=False)`;
- error mapping onto `VenueError` codes, with "outcome unknown" (`VenueTimeout`) for every
  network failure of a create or cancel: those are reconciled by client order id, never re-sent;
- client order ids in the venue's rules, mapped both ways;
- stream supervision: reconnect with backoff and jitter, a REST probe that tells a quiet book
  from a dead feed, a fresh snapshot after any gap, REST resync of orders/fills after a
  private stream came back; every outage and recovery reported as `StreamStatus`.
Money crosses the boundary as text: prices and amounts go to ccxt as strings, and what ccxt
returns (floats, or the venue's raw strings when the profile trusts them) becomes Decimal via
`str`, snapped to the market's grid.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from agent.clock import Clock
from agent.model import (
    ZERO,
    Balance,
    BookLevel,
    CancelResult,
    CreateResult,
    Fill,
    Liquidity,
    MarketRules,
    OrderBook,
    OrderRequest,
    PublicTrade,
    Side,
    TimeInForce,
    VenueOrder,
    VenueOrderStatus,
)
from agent.venues import gate
from agent.venues.base import (
    BalanceUpdate,
    BookUpdate,
    Capabilities,
    FillUpdate,
    OrderUpdate,
    StreamStatus,
    TradeUpdate,
    Venue,
    VenueError,
    VenueErrorCode,
    VenueEvent,
    VenueTimeout,
)
from agent.venues.ratelimit import BudgetSpec, CallClass, RateBudget

if TYPE_CHECKING:
    from agent.config import BotConfig

log = logging.getLogger(__name__)

E = VenueErrorCode
ID_MAP_SIZE = 20_000
SEEN_FILLS = 50_000
LABEL_RE = re.compile(r'"label"\s*:\s*"([A-Z_]+)"')


# --------------------------------------------------------------------------- credentials


@dataclass(frozen=True, slots=True)
class Credentials:
    """API credentials. Never printed: the repr masks everything but the key's first chars."""

    api_key: str
    secret: str = field(repr=False)
    password: str = field(default="", repr=False)

    def __repr__(self) -> str:
        return f"Credentials(api_key={self.api_key[:4]}…)"

    @classmethod
    def from_env(cls, venue: str, env: dict[str, str] | None = None) -> Credentials | None:
        """`MMBOT_<VENUE>_API_KEY` / `_API_SECRET` (and `_API_PASSWORD` where needed)."""
        env = dict(os.environ) if env is None else env
        prefix = f"MMBOT_{venue.upper()}_"
        key = env.get(prefix + "API_KEY", "")
        secret = env.get(prefix + "API_SECRET", "")
        if not key or not secret:
            return None
        return cls(key, secret, env.get(prefix + "API_PASSWORD", ""))


def resolve_url(
    venue: str, config_url: str | None, env: dict[str, str] | None = None
) -> str | None:
    """Endpoint override: `MMBOT_<VENUE>_URL` wins over the config's `bot.venue_url`."""
    env = dict(os.environ) if env is None else env
    return env.get(f"MMBOT_{venue.upper()}_URL") or config_url or None


# --------------------------------------------------------------------------- venue profiles


@dataclass(frozen=True)
class VenueProfile:
    """What we know about one venue beyond ccxt's `has`. Certified venues get their own."""

    exchange_id: str
    certified: bool
    budget: BudgetSpec
    max_batch_create: int
    max_batch_cancel: int
    real_hosts: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    raw_fields: bool = False  # trust the venue's raw strings in `info` for money fields
    post_only: bool | None = None  # None: from ccxt's features
    dead_man: bool = False
    exchange_class: Callable[[], type] | None = None

    def to_client_id(self, client_order_id: str) -> dict[str, str]:
        if self.exchange_id == gate.EXCHANGE_ID:
            return {"text": gate.to_text(client_order_id)}
        return {"clientOrderId": client_order_id}

    def from_client_id(self, order: dict[str, Any]) -> str:
        raw = order.get("clientOrderId")
        info = order.get("info") or {}
        if self.exchange_id == gate.EXCHANGE_ID:
            return gate.from_text(raw or (info.get("text") if isinstance(info, dict) else None))
        return str(raw or "")

    def cancel_id(self, client_order_id: str) -> str:
        """An id the venue accepts in place of its own order id, if any (Gate: the text)."""
        if self.exchange_id == gate.EXCHANGE_ID:
            return gate.to_text(client_order_id)
        return ""


def _gate_class() -> type:
    """ccxt.pro's gate plus the gap check ccxt lacks: a `spot.obu` delta whose `U` is not the
    last `u` + 1 drops the local book and fails the watcher with InvalidNonce, so the venue
    resubscribes and rebuilds from a fresh full snapshot instead of trading on a corrupt book."""
    import ccxt.pro as ccxtpro
    from ccxt.base.errors import InvalidNonce

    class GateWithGapCheck(ccxtpro.gate):
        def handle_new_spot_order_book(self, client: Any, message: Any) -> Any:
            result = message.get("result") or {}
            if not result.get("full"):
                stream = str(result.get("s", ""))
                parts = stream.split(".")
                if len(parts) == 3:
                    symbol = self.safe_symbol(parts[1], None, "_", "spot")
                    book = self.orderbooks.get(symbol)
                    nonce = book["nonce"] if book is not None else None
                    first = result.get("U")
                    if nonce is not None and first is not None and int(first) > int(nonce) + 1:
                        book["nonce"] = None  # drop deltas until the next full snapshot
                        client.reject(
                            InvalidNonce(f"gate spot.obu gap on {stream}: U={first}, u={nonce}"),
                            "orderbook:" + symbol,
                        )
                        return None
            return super().handle_new_spot_order_book(client, message)

    return GateWithGapCheck


GATE_PROFILE = VenueProfile(
    exchange_id=gate.EXCHANGE_ID,
    certified=True,
    budget=BudgetSpec(
        orders_per_second=gate.BUDGET_ORDERS_PER_SECOND,
        cancels_per_second=gate.BUDGET_CANCELS_PER_SECOND,
        queries_per_second=gate.BUDGET_QUERIES_PER_SECOND,
    ),
    max_batch_create=gate.MAX_BATCH_CREATE,
    max_batch_cancel=gate.MAX_BATCH_CANCEL,
    real_hosts=gate.REAL_HOST_SUFFIXES,
    options={"fetchMarkets": {"types": ["spot"]}, "unifiedAccount": False},
    raw_fields=True,
    post_only=True,
    dead_man=True,
    exchange_class=_gate_class,
)

PROFILES: dict[str, VenueProfile] = {gate.EXCHANGE_ID: GATE_PROFILE}


def generic_profile(
    exchange_id: str, rate_limit_ms: float, real_hosts: tuple[str, ...]
) -> VenueProfile:
    """An uncertified venue: one shared budget at 80 % of ccxt's own `rateLimit`."""
    per_second = max(0.5, 1000.0 / max(rate_limit_ms, 1.0) * 0.8)
    return VenueProfile(
        exchange_id=exchange_id,
        certified=False,
        budget=BudgetSpec(per_second, per_second, per_second, shared=True),
        max_batch_create=5,
        max_batch_cancel=10,
        real_hosts=real_hosts,
    )


# --------------------------------------------------------------------------- URL override


def _iter_urls(node: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    out: list[tuple[tuple[str, ...], str]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_iter_urls(v, (*path, str(k))))
    elif isinstance(node, str) and "://" in node:
        out.append((path, node))
    return out


def _set(node: dict[str, Any], path: tuple[str, ...], value: str) -> None:
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value


def override_urls(exchange: Any, base_url: str, real_hosts: tuple[str, ...] = ()) -> None:
    """Point every REST and WebSocket URL of `exchange` at `base_url`, keeping paths.

    `https://api.gateio.ws/api/v4` -> `<base>/api/v4`, `wss://api.gateio.ws/ws/v4/` ->
    `ws(s)://<host>/ws/v4/`. Raises if any URL still names a real host afterwards."""
    base = urlsplit(base_url.rstrip("/"))
    if base.scheme not in ("http", "https") or not base.netloc:
        raise ValueError(f"venue URL {base_url!r} must look like http://host:port")
    ws_scheme = "wss" if base.scheme == "https" else "ws"
    for section in ("api", "test"):
        node = exchange.urls.get(section)
        if not isinstance(node, dict):
            continue
        for path, url in _iter_urls(node):
            parts = urlsplit(url)
            scheme = ws_scheme if parts.scheme in ("ws", "wss") else base.scheme
            new_path = base.path + parts.path
            _set(node, path, urlunsplit((scheme, base.netloc, new_path, parts.query, "")))
    leftover = [
        url
        for section in ("api", "test")
        for _, url in _iter_urls(exchange.urls.get(section) or {})
        if urlsplit(url).netloc != base.netloc
        or any((urlsplit(url).hostname or "").endswith(h) for h in real_hosts)
    ]
    if leftover:
        raise ValueError(f"URL override left real endpoints behind: {leftover}")


# --------------------------------------------------------------------------- conversions


def _d(value: Any) -> Decimal:
    """ccxt number (float/int/str/None) -> Decimal via its text; never through float math."""
    if value is None or value == "":
        return ZERO
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return ZERO


def _snap(value: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return value
    return (value / step).to_integral_value() * step


def _label(exc: BaseException) -> str:
    m = LABEL_RE.search(str(exc))
    return m.group(1) if m else ""


class CcxtVenue(Venue):
    """One account on one ccxt exchange; see the module docstring."""

    def __init__(
        self,
        exchange_id: str,
        *,
        credentials: Credentials | None = None,
        url: str | None = None,
        clock: Clock | None = None,
        profile: VenueProfile | None = None,
        exchange: Any = None,
        options: dict[str, Any] | None = None,
        depth: int = 50,
        stale_after: float = 5.0,
        probe_every: float = 1.0,
        poll_every: float = 1.0,
        timeout_ms: int = 10_000,
        use_websocket: bool = True,
        rate_limit_retries: int = 3,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.name = exchange_id
        self.exchange_id = exchange_id
        self.credentials = credentials
        self.url = url
        self.clock = clock
        self.depth = depth
        self.stale_after = stale_after
        self.probe_every = probe_every
        self.poll_every = poll_every
        self.timeout_ms = timeout_ms
        self.use_websocket = use_websocket
        self.rate_limit_retries = rate_limit_retries
        self._extra_options = options or {}
        self._given_exchange = exchange
        self._profile = profile
        self.profile: VenueProfile = (
            profile or PROFILES.get(exchange_id) or generic_profile(exchange_id, 50.0, ())
        )
        self.ex: Any = None
        self.budget = RateBudget(self.profile.budget, rng=random.Random(f"{seed}:budget"))
        self.capabilities = Capabilities()
        self._rng = random.Random(f"{seed}:streams")
        self._rules: dict[str, MarketRules] = {}
        self._cid_to_vid: OrderedDict[str, str] = OrderedDict()
        self._vid_to_cid: OrderedDict[str, str] = OrderedDict()
        self._seen_fills: OrderedDict[str, None] = OrderedDict()
        self._queues: set[asyncio.Queue[VenueEvent | None]] = set()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._down: set[str] = set()
        self._book_at = 0.0  # loop time of the last book from the stream
        self._book_nonce: int | None = None
        self._last_book: OrderBook | None = None
        self._last_fill_at = 0.0
        self.stream_counts: Counter[str] = Counter()  # events per stream, for tests and status
        self._started = False
        self._closed = False

    # ----------------------------------------------------------------- lifecycle

    def _build_exchange(self) -> Any:
        if self._given_exchange is not None:
            return self._given_exchange
        import ccxt.pro as ccxtpro

        factory = self.profile.exchange_class
        cls = factory() if factory is not None else getattr(ccxtpro, self.exchange_id, None)
        if cls is None:
            import ccxt.async_support as ccxt_async

            cls = getattr(ccxt_async, self.exchange_id, None)
        if cls is None:
            raise VenueError(E.INVALID_ORDER, f"ccxt has no exchange {self.exchange_id!r}")
        config: dict[str, Any] = {
            "enableRateLimit": False,  # our own budget (agent.venues.ratelimit) applies
            "timeout": self.timeout_ms,
            "options": {**self.profile.options, **self._extra_options},
        }
        if self.credentials is not None:
            config["apiKey"] = self.credentials.api_key
            config["secret"] = self.credentials.secret
            if self.credentials.password:
                config["password"] = self.credentials.password
        return cls(config)

    async def start(self) -> None:
        """Create the ccxt client, apply the URL override, load markets, detect capabilities."""
        if self._started:
            raise RuntimeError("venue already started")
        self._started = True
        ex = self.ex = self._build_exchange()
        if self._profile is None and self.exchange_id not in PROFILES:
            hosts = tuple(
                h
                for _, u in _iter_urls(ex.urls.get("api") or {})
                if (h := urlsplit(u).hostname or "")
            )
            self.profile = generic_profile(self.exchange_id, float(ex.rateLimit or 50), hosts)
            self.budget = RateBudget(self.profile.budget, rng=self.budget.rng)
        if self.url:
            override_urls(ex, self.url, self.profile.real_hosts)
        if self.credentials is None and not getattr(ex, "apiKey", ""):
            raise VenueError(
                E.AUTH,
                f"no API credentials for {self.exchange_id}: set MMBOT_{self.exchange_id.upper()}"
                "_API_KEY and _API_SECRET, or store them with the agent (SetCredentials)",
            )
        await self._call("load_markets", CallClass.QUERY, None, ex.load_markets)
        self.capabilities = self._detect_capabilities()

    def _detect_capabilities(self) -> Capabilities:
        ex, p = self.ex, self.profile
        has = ex.has or {}
        feats = ex.features or {}
        spot = feats.get("spot") or feats.get("default") or {}
        create = spot.get("createOrder") or {}
        tif = create.get("timeInForce") or {}
        post_only = p.post_only if p.post_only is not None else bool(tif.get("PO"))
        ws = self.use_websocket
        return Capabilities(
            batch_create=bool(has.get("createOrders")) and p.max_batch_create > 1,
            batch_cancel=bool(has.get("cancelOrders")) and p.max_batch_cancel > 1,
            max_batch_create=p.max_batch_create,
            max_batch_cancel=p.max_batch_cancel,
            amend=bool(has.get("editOrder")),
            post_only=post_only,
            watch_orders=ws and bool(has.get("watchOrders")),
            watch_my_trades=ws and bool(has.get("watchMyTrades")),
            watch_balance=ws and bool(has.get("watchBalance")),
            dead_man_switch=p.dead_man or bool(has.get("cancelAllOrdersAfter")),
        )

    def check_config(self, config: BotConfig) -> list[str]:
        """Config problems this venue cannot serve, as 'field.path: rule' lines."""
        errors = []
        if config.market_making.post_only and not self.capabilities.post_only:
            errors.append(
                f"market_making.post_only: venue {self.exchange_id} has no post-only orders; "
                "set post_only: false to quote with plain limit orders, or pick another venue"
            )
        return errors

    async def close(self) -> None:
        """Stop the watchers, end every stream, close ccxt (~0.25 s)."""
        if self._closed:
            return
        self._closed = True
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for q in list(self._queues):
            q.put_nowait(None)
        if self.ex is not None and self._given_exchange is None:
            with contextlib.suppress(Exception):
                await self.ex.close()

    # ----------------------------------------------------------------- calls

    async def _call(
        self,
        kind: str,
        cls: CallClass,
        symbol: str | None,
        fn: Callable[..., Awaitable[Any]],
        *args: Any,
        unknown_on_network: bool = False,
        **kwargs: Any,
    ) -> Any:
        """One venue call: count it, wait for the budget, map its failure.

        A 429 means the venue did nothing, so the call is retried after the shared back-off
        (at most `rate_limit_retries` times) instead of surfacing as a reject storm."""
        self.calls[kind] += 1
        attempt = 0
        while True:
            await self.budget.acquire(cls, symbol)
            try:
                result = await fn(*args, **kwargs)
            except Exception as exc:
                err = self._map_error(exc, kind, unknown_on_network)
                if err.code is E.RATE_LIMITED and attempt < self.rate_limit_retries:
                    attempt += 1
                    self.calls[f"{kind}_retried_after_429"] += 1
                    continue
                raise err from exc
            if self.budget.succeeded():
                self._status("rate_limit", True, "calls go through again")
            return result

    def _map_error(self, exc: Exception, kind: str, unknown: bool) -> VenueError:
        import ccxt

        label = _label(exc)
        text = f"{kind}: {type(exc).__name__}: {exc}"[:500]
        if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection) or label == (
            "TOO_MANY_REQUESTS"
        ):
            delay = self.budget.rate_limited()
            self._status("rate_limit", False, f"429 from the venue; backing off {delay:.1f}s")
            return VenueError(E.RATE_LIMITED, text)
        if isinstance(exc, ccxt.AuthenticationError):
            return VenueError(E.AUTH, text)
        if isinstance(exc, ccxt.InsufficientFunds):
            return VenueError(E.INSUFFICIENT_FUNDS, text)
        if isinstance(exc, ccxt.OrderImmediatelyFillable):
            return VenueError(E.POST_ONLY_WOULD_TAKE, text)
        if isinstance(exc, ccxt.OrderNotFound) or label in (
            "ORDER_CLOSED",
            "ORDER_CANCELLED",
            "ORDER_NOT_FOUND",
        ):
            return VenueError(E.ORDER_NOT_FOUND, text)
        if isinstance(exc, ccxt.InvalidOrder | ccxt.BadRequest | ccxt.NotSupported):
            return VenueError(E.INVALID_ORDER, text)
        if isinstance(exc, ccxt.NetworkError | asyncio.TimeoutError):
            return VenueTimeout(text) if unknown else VenueError(E.NETWORK, text)
        if isinstance(exc, ccxt.ExchangeError):
            code = gate.LABEL_TO_CODE.get(label, E.REJECTED.value)
            return VenueError(E(code), text)
        if isinstance(exc, ccxt.BaseError):
            return VenueError(E.NETWORK, text)
        raise exc

    # ----------------------------------------------------------------- markets

    async def market_rules(self, symbol: str) -> MarketRules:
        rules = self._rules.get(symbol)
        if rules is not None:
            return rules
        market = (self.ex.markets or {}).get(symbol)
        if market is None:
            raise VenueError(E.INVALID_ORDER, f"{self.exchange_id} has no market {symbol}")
        rules = self._rules_from(market)
        self._rules[symbol] = rules
        return rules

    def _rules_from(self, market: dict[str, Any]) -> MarketRules:
        info = market.get("info") or {}
        if self.profile.raw_fields and "amount_precision" in info:
            tick = Decimal(1).scaleb(-int(info["precision"]))
            lot = Decimal(1).scaleb(-int(info["amount_precision"]))
            min_notional = _d(info.get("min_quote_amount"))
            min_amount = _d(info.get("min_base_amount"))
        else:
            from ccxt.base.decimal_to_precision import DECIMAL_PLACES

            prec = market.get("precision") or {}
            if self.ex.precisionMode == DECIMAL_PLACES:
                tick = Decimal(1).scaleb(-int(prec.get("price") or 8))
                lot = Decimal(1).scaleb(-int(prec.get("amount") or 8))
            else:
                tick = _d(prec.get("price")) or Decimal("1e-8")
                lot = _d(prec.get("amount")) or Decimal("1e-8")
            limits = market.get("limits") or {}
            min_notional = _d((limits.get("cost") or {}).get("min"))
            min_amount = _d((limits.get("amount") or {}).get("min"))
        return MarketRules(
            symbol=market["symbol"],
            base=market["base"],
            quote=market["quote"],
            tick_size=tick.normalize() if tick != 1 else tick,
            lot_size=lot.normalize() if lot != 1 else lot,
            min_notional=min_notional,
            min_amount=min_amount,
            maker_fee=_d(market.get("maker")),
            taker_fee=_d(market.get("taker")),
        )

    def _rules_or_none(self, symbol: str) -> MarketRules | None:
        rules = self._rules.get(symbol)
        if rules is None and self.ex is not None and symbol in (self.ex.markets or {}):
            rules = self._rules[symbol] = self._rules_from(self.ex.markets[symbol])
        return rules

    # ----------------------------------------------------------------- conversions

    def _book(self, symbol: str, ob: dict[str, Any]) -> OrderBook:
        rules = self._rules_or_none(symbol)
        tick = rules.tick_size if rules else Decimal(0)
        lot = rules.lot_size if rules else Decimal(0)

        def levels(rows: list[Any]) -> tuple[BookLevel, ...]:
            return tuple(
                BookLevel(_snap(_d(r[0]), tick), _snap(_d(r[1]), lot))
                for r in rows[: self.depth]
                if _d(r[1]) > 0
            )

        ts = ob.get("timestamp")
        at = ts / 1000 if ts else self._now()
        nonce = ob.get("nonce")
        return OrderBook(
            symbol=symbol,
            bids=levels(ob.get("bids") or []),
            asks=levels(ob.get("asks") or []),
            at=at,
            seq=int(nonce) if nonce is not None else 0,
        )

    def _order(self, o: dict[str, Any], symbol: str) -> VenueOrder:
        info = o.get("info") if isinstance(o.get("info"), dict) else {}
        assert isinstance(info, dict)
        raw = self.profile.raw_fields
        price = _d(info.get("price")) if raw and "price" in info else _d(o.get("price"))
        amount = _d(info.get("amount")) if raw and "amount" in info else _d(o.get("amount"))
        if raw and "filled_amount" in info:
            filled = _d(info.get("filled_amount"))
        else:
            filled = _d(o.get("filled"))
        status_raw = str(o.get("status") or "")
        finish_as = str(info.get("finish_as", "")) if raw else ""
        reason = ""
        if status_raw == "open":
            status = VenueOrderStatus.OPEN
        elif status_raw == "closed":
            status = VenueOrderStatus.FILLED if filled >= amount > 0 else VenueOrderStatus.CANCELED
        elif status_raw == "rejected":
            status = VenueOrderStatus.REJECTED
            reason = str(info.get("label") or info.get("message") or "rejected")
        else:  # canceled, expired, and Gate's raw poc / stp / ioc
            status = VenueOrderStatus.CANCELED
            reason = finish_as if finish_as not in ("", "cancelled") else ""
            if status_raw in ("poc", "stp"):
                reason = status_raw
        cid = self.profile.from_client_id(o)
        vid = str(o.get("id") or "")
        if cid and vid:
            self._remember(cid, vid)
        ts = o.get("lastUpdateTimestamp") or o.get("lastTradeTimestamp") or o.get("timestamp")
        if raw and info.get("update_time_ms"):
            ts = int(float(str(info["update_time_ms"])))
        return VenueOrder(
            client_order_id=cid,
            venue_order_id=vid,
            symbol=o.get("symbol") or symbol,
            side=Side(o.get("side") or info.get("side") or "buy"),
            price=price,
            amount=amount,
            filled=filled,
            status=status,
            at=ts / 1000 if ts else self._now(),
            reason=reason,
        )

    def _fill(self, t: dict[str, Any], symbol: str) -> Fill:
        info = t.get("info") if isinstance(t.get("info"), dict) else {}
        assert isinstance(info, dict)
        raw = self.profile.raw_fields
        vid = str(t.get("order") or info.get("order_id") or "")
        cid = ""
        if raw and info.get("text"):
            cid = gate.from_text(str(info["text"]))
        if not cid:
            cid = self._vid_to_cid.get(vid, "") or self.profile.from_client_id(t)
        fee = t.get("fee") or {}
        fee_cost = _d(info.get("fee")) if raw and "fee" in info else _d(fee.get("cost"))
        fee_asset = str((info.get("fee_currency") if raw else None) or fee.get("currency") or "")
        role = t.get("takerOrMaker") or info.get("role")
        ts = t.get("timestamp")
        return Fill(
            trade_id=str(t.get("id")),
            client_order_id=cid,
            venue_order_id=vid,
            symbol=t.get("symbol") or symbol,
            side=Side(str(t.get("side") or info.get("side") or "buy")),
            price=_d(info.get("price")) if raw and "price" in info else _d(t.get("price")),
            amount=_d(info.get("amount")) if raw and "amount" in info else _d(t.get("amount")),
            fee=fee_cost,
            fee_asset=fee_asset,
            liquidity=Liquidity.MAKER if role == "maker" else Liquidity.TAKER,
            at=ts / 1000 if ts else self._now(),
        )

    def _balances(self, bal: dict[str, Any]) -> dict[str, Balance]:
        info = bal.get("info")
        out: dict[str, Balance] = {}
        if self.profile.raw_fields and isinstance(info, list):
            for row in info:
                if isinstance(row, dict) and "currency" in row and "available" in row:
                    c = str(row["currency"])
                    out[c] = Balance(c, _d(row["available"]), _d(row.get("locked", "0")))
            if out:
                return out
        for asset, row in bal.items():
            if asset in ("info", "free", "used", "total", "timestamp", "datetime"):
                continue
            if isinstance(row, dict) and ("free" in row or "used" in row):
                out[asset] = Balance(asset, _d(row.get("free")), _d(row.get("used")))
        return out

    def _remember(self, cid: str, vid: str) -> None:
        self._cid_to_vid[cid] = vid
        self._vid_to_cid[vid] = cid
        while len(self._cid_to_vid) > ID_MAP_SIZE:
            self._cid_to_vid.popitem(last=False)
        while len(self._vid_to_cid) > ID_MAP_SIZE:
            self._vid_to_cid.popitem(last=False)

    def _now(self) -> float:
        return self.clock.now() if self.clock is not None else time.time()

    # ----------------------------------------------------------------- account and orders

    async def fetch_balances(self) -> dict[str, Balance]:
        bal = await self._call("fetch_balances", CallClass.QUERY, None, self.ex.fetch_balance)
        return self._balances(bal)

    async def fetch_order_book(self, symbol: str, depth: int = 50) -> OrderBook:
        ob = await self._call(
            "fetch_order_book", CallClass.QUERY, symbol, self.ex.fetch_order_book, symbol, depth
        )
        return self._book(symbol, ob)

    def _request_args(self, req: OrderRequest) -> dict[str, Any]:
        params: dict[str, Any] = dict(self.profile.to_client_id(req.client_order_id))
        if req.tif is TimeInForce.POST_ONLY:
            params["postOnly"] = True
        elif req.tif is TimeInForce.IOC:
            params["timeInForce"] = "IOC"
        return {
            "symbol": req.symbol,
            "type": "limit",
            "side": req.side.value,
            "amount": str(req.amount),
            "price": str(req.price),
            "params": params,
        }

    def _create_result(self, req: OrderRequest, o: dict[str, Any]) -> CreateResult:
        info = o.get("info") if isinstance(o.get("info"), dict) else {}
        assert isinstance(info, dict)
        status = str(o.get("status") or "")
        if status == "rejected" or info.get("succeeded") is False:
            label = str(info.get("label") or "")
            code = gate.LABEL_TO_CODE.get(label, E.REJECTED.value)
            return CreateResult(req, error=code, message=f"{label}: {info.get('message', '')}")
        vo = self._order(o, req.symbol)
        if not vo.client_order_id:
            vo = _with_cid(vo, req.client_order_id)
        self._remember(req.client_order_id, vo.venue_order_id)
        if vo.reason == gate.FINISH_POST_ONLY:
            return CreateResult(
                req, error=E.POST_ONLY_WOULD_TAKE.value, message="post-only order would take"
            )
        if vo.reason == "stp":
            return CreateResult(req, error=E.REJECTED.value, message="self-trade prevention")
        return CreateResult(req, order=vo)

    async def create_orders(self, requests: list[OrderRequest]) -> list[CreateResult]:
        if not requests:
            return []
        if not self.capabilities.post_only and any(r.post_only for r in requests):
            return [
                CreateResult(
                    r,
                    error=E.INVALID_ORDER.value,
                    message=f"{self.exchange_id} has no post-only orders",
                )
                for r in requests
            ]
        symbol = requests[0].symbol
        if len(requests) > 1 and self.capabilities.batch_create:
            if len(requests) > self.capabilities.max_batch_create:
                raise VenueError(
                    E.INVALID_ORDER,
                    f"batch of {len(requests)} exceeds {self.capabilities.max_batch_create}",
                )
            orders = await self._call(
                "create_orders",
                CallClass.ORDER,
                symbol,
                self.ex.create_orders,
                [self._request_args(r) for r in requests],
                unknown_on_network=True,
            )
            return self._match_batch(requests, orders)
        results: list[CreateResult] = []
        for i, req in enumerate(requests):
            a = self._request_args(req)
            try:
                o = await self._call(
                    "create_order",
                    CallClass.ORDER,
                    symbol,
                    self.ex.create_order,
                    a["symbol"],
                    a["type"],
                    a["side"],
                    a["amount"],
                    a["price"],
                    a["params"],
                    unknown_on_network=True,
                )
            except VenueTimeout:
                raise  # this and the later requests: reconciled by client id
            except VenueError as exc:
                results.append(CreateResult(req, error=exc.code.value, message=exc.message))
                if exc.code in (E.RATE_LIMITED, E.AUTH):
                    results.extend(
                        CreateResult(r, error=exc.code.value, message="not sent: " + exc.code)
                        for r in requests[i + 1 :]
                    )
                    break
                continue
            results.append(self._create_result(req, o))
        return results

    def _match_batch(
        self, requests: list[OrderRequest], orders: list[dict[str, Any]]
    ) -> list[CreateResult]:
        """ccxt sorts parsed batch results by timestamp (failed items have none), so results
        are matched to requests by client id; items without one fill the gaps in order."""
        by_cid: dict[str, dict[str, Any]] = {}
        anonymous: list[dict[str, Any]] = []
        for o in orders:
            cid = self.profile.from_client_id(o)
            if cid and cid not in by_cid:
                by_cid[cid] = o
            else:
                anonymous.append(o)
        out = []
        for r in requests:
            found = by_cid.pop(r.client_order_id, None)
            if found is None and anonymous:
                found = anonymous.pop(0)
            if found is None:  # the venue said nothing about it: unknown, not failed
                raise VenueTimeout(f"batch answer has no result for {r.client_order_id}")
            out.append(self._create_result(r, found))
        return out

    def _venue_id(self, client_order_id: str, venue_order_id: str) -> str:
        return (
            venue_order_id
            or self._cid_to_vid.get(client_order_id, "")
            or self.profile.cancel_id(client_order_id)
        )

    async def cancel_orders(self, symbol: str, orders: list[tuple[str, str]]) -> list[CancelResult]:
        if not orders:
            return []
        ids = [(cid, self._venue_id(cid, vid)) for cid, vid in orders]
        unknown = [cid for cid, vid in ids if not vid]
        results = [
            CancelResult(cid, False, E.ORDER_NOT_FOUND.value, "no venue id known")
            for cid in unknown
        ]
        ids = [(cid, vid) for cid, vid in ids if vid]
        if len(ids) > 1 and self.capabilities.batch_cancel:
            raw = await self._call(
                "cancel_orders",
                CallClass.CANCEL,
                symbol,
                self.ex.cancel_orders,
                [vid for _, vid in ids],
                symbol,
                unknown_on_network=True,
            )
            for (cid, _vid), o in zip(ids, raw, strict=True):
                info = o.get("info") if isinstance(o.get("info"), dict) else {}
                assert isinstance(info, dict)
                if info.get("succeeded", True) is not False and o.get("status") != "rejected":
                    results.append(CancelResult(cid, True))
                    continue
                label = str(info.get("label") or "")
                code = gate.LABEL_TO_CODE.get(label, E.REJECTED.value)
                if label in ("ORDER_CLOSED", "ORDER_CANCELLED"):
                    code = E.ORDER_NOT_FOUND.value
                results.append(
                    CancelResult(cid, False, code, f"{label}: {info.get('message', '')}")
                )
            return results
        for cid, vid in ids:
            try:
                o = await self._call(
                    "cancel_order",
                    CallClass.CANCEL,
                    symbol,
                    self.ex.cancel_order,
                    vid,
                    symbol,
                    unknown_on_network=True,
                )
            except VenueTimeout:
                raise
            except VenueError as exc:
                if exc.code in (E.RATE_LIMITED, E.AUTH):
                    raise
                results.append(CancelResult(cid, False, exc.code.value, exc.message))
                continue
            vo = self._order(o, symbol)
            results.append(CancelResult(cid, True, order=_with_cid(vo, cid)))
        return results

    async def cancel_all(self, symbol: str) -> list[CancelResult]:
        raw = await self._call(
            "cancel_all",
            CallClass.CANCEL,
            symbol,
            self.ex.cancel_all_orders,
            symbol,
            unknown_on_network=True,
        )
        out = []
        for o in raw or []:
            vo = self._order(o, symbol)
            out.append(CancelResult(vo.client_order_id, True, order=vo))
        return out

    async def fetch_open_orders(self, symbol: str) -> list[VenueOrder]:
        raw = await self._call(
            "fetch_open_orders", CallClass.QUERY, symbol, self.ex.fetch_open_orders, symbol
        )
        if self.exchange_id == gate.EXCHANGE_ID and len(raw) >= gate.OPEN_ORDERS_PAGE:
            # A full page: Gate's open_orders stops at 100 orders of a pair, and an order
            # the reconciliation does not see is an order nobody cancels.
            raw = await self._gate_all_open_orders(symbol)
        return [self._order(o, symbol) for o in raw]

    async def _gate_all_open_orders(self, symbol: str) -> list[dict[str, Any]]:
        """Every open order of `symbol`, paged through GET /spot/orders?status=open. Orders
        placed or closed while paging can shift between pages: a repeat is dropped by id
        (one that shifted onto an earlier page is found by the next reconciliation)."""
        ex = self.ex
        market = ex.market(symbol)
        seen: dict[str, dict[str, Any]] = {}
        for page in range(1, gate.OPEN_ORDERS_MAX_PAGES + 1):
            rows = await self._call(
                "fetch_open_orders",
                CallClass.QUERY,
                symbol,
                ex.privateSpotGetOrders,
                {
                    "currency_pair": market["id"],
                    "status": "open",
                    "account": "spot",
                    "page": page,
                    "limit": gate.OPEN_ORDERS_PAGE,
                },
            )
            for o in ex.parse_orders(rows, market):
                seen.setdefault(str(o.get("id")), o)
            if len(rows) < gate.OPEN_ORDERS_PAGE:
                break
        return list(seen.values())

    async def fetch_order(self, symbol: str, client_order_id: str) -> VenueOrder | None:
        """By client id while open; by remembered venue id; else in recent closed orders.
        None only when the venue never had it."""
        ex = self.ex
        vid = self._cid_to_vid.get(client_order_id, "")
        if not vid:
            text_id = self.profile.cancel_id(client_order_id)
            if text_id:
                try:
                    o = await self._call(
                        "fetch_order", CallClass.QUERY, symbol, ex.fetch_order, text_id, symbol
                    )
                    return _with_cid(self._order(o, symbol), client_order_id)
                except VenueError as exc:
                    if exc.code is not E.ORDER_NOT_FOUND:
                        raise
        if vid:
            try:
                o = await self._call(
                    "fetch_order", CallClass.QUERY, symbol, ex.fetch_order, vid, symbol
                )
                return _with_cid(self._order(o, symbol), client_order_id)
            except VenueError as exc:
                if exc.code is not E.ORDER_NOT_FOUND:
                    raise
        if (ex.has or {}).get("fetchClosedOrders"):
            since = int((self._now() - 86400) * 1000)
            closed = await self._call(
                "fetch_closed_orders",
                CallClass.QUERY,
                symbol,
                ex.fetch_closed_orders,
                symbol,
                since,
            )
            for o in closed:
                vo = self._order(o, symbol)
                if vo.client_order_id == client_order_id:
                    return vo
        return None

    async def fetch_fills(self, symbol: str, since: float) -> list[Fill]:
        fills: list[Fill] = []
        page = 1
        limit = 1000
        while True:
            raw = await self._call(
                "fetch_fills",
                CallClass.QUERY,
                symbol,
                self.ex.fetch_my_trades,
                symbol,
                int(since * 1000),
                limit,
                {"page": page} if self.exchange_id == gate.EXCHANGE_ID else {},
            )
            fills.extend(self._fill(t, symbol) for t in raw)
            if len(raw) < limit or self.exchange_id != gate.EXCHANGE_ID or page >= 50:
                break
            page += 1
        fills.sort(key=lambda f: f.at)
        return fills

    async def arm_dead_man(self, symbol: str, seconds: int) -> None:
        """Gate: countdown cancel-all for `symbol`; re-arm every DEAD_MAN_REARM_SECONDS with
        DEAD_MAN_TIMEOUT_SECONDS; 0 disarms."""
        if not self.capabilities.dead_man_switch:
            await super().arm_dead_man(symbol, seconds)
        if seconds and seconds < gate.DEAD_MAN_MIN_SECONDS and self.exchange_id == gate.EXCHANGE_ID:
            raise VenueError(
                E.INVALID_ORDER, f"dead-man timeout must be 0 or >= {gate.DEAD_MAN_MIN_SECONDS}"
            )
        if self.exchange_id == gate.EXCHANGE_ID:
            market_id = self.ex.market(symbol)["id"]
            await self._call(
                "arm_dead_man",
                CallClass.CANCEL,
                symbol,
                self.ex.privateSpotPostCountdownCancelAll,
                {"timeout": int(seconds), "currency_pair": market_id},
            )
            return
        await self._call(
            "arm_dead_man",
            CallClass.CANCEL,
            symbol,
            self.ex.cancel_all_orders_after,
            int(seconds) * 1000,
        )

    # ----------------------------------------------------------------- streams

    async def stream(self, symbol: str) -> AsyncIterator[VenueEvent]:
        """Book, trades and own orders/fills/balances; starts with the last book, if any."""
        self.calls["stream"] += 1
        if self._closed:
            return
        queue: asyncio.Queue[VenueEvent | None] = asyncio.Queue()
        self._queues.add(queue)
        self._start_watchers(symbol)
        if self._last_book is not None:
            queue.put_nowait(BookUpdate(self._last_book))
        try:
            while True:
                ev = await queue.get()
                if ev is None:
                    return
                yield ev
        finally:
            self._queues.discard(queue)

    def _emit(self, ev: VenueEvent) -> None:
        for q in list(self._queues):
            q.put_nowait(ev)

    def _status(self, stream: str, up: bool, reason: str) -> None:
        if up and stream not in self._down:
            return
        if not up and stream in self._down:
            return
        if up:
            self._down.discard(stream)
        else:
            self._down.add(stream)
        log.info("%s stream %s %s: %s", self.exchange_id, stream, "up" if up else "down", reason)
        self._emit(StreamStatus(stream, up, reason))

    def _spawn(self, name: str, coro: Awaitable[None]) -> None:
        if name in self._tasks and not self._tasks[name].done():
            return
        self._tasks[name] = asyncio.get_running_loop().create_task(coro, name=f"ccxt-{name}")  # type: ignore[arg-type]

    def _start_watchers(self, symbol: str) -> None:
        has = self.ex.has or {}
        ws = self.use_websocket
        if ws and has.get("watchOrderBook"):
            self._spawn("book", self._watch_book(symbol))
            self._spawn("book-probe", self._probe_book(symbol))
        else:
            self._spawn("book", self._poll_book(symbol))
        if ws and has.get("watchTrades"):
            self._spawn(
                "trades", self._watch("trades", self._on_trades, self.ex.watch_trades, symbol)
            )
        if self.capabilities.watch_orders:
            self._spawn(
                "orders", self._watch("orders", self._on_orders, self.ex.watch_orders, symbol)
            )
        if self.capabilities.watch_my_trades:
            self._spawn(
                "fills", self._watch("fills", self._on_my_trades, self.ex.watch_my_trades, symbol)
            )
        if self.capabilities.watch_balance:
            self._spawn("balance", self._watch("balance", self._on_balance, self.ex.watch_balance))
        if not (self.capabilities.watch_orders and self.capabilities.watch_my_trades):
            self._spawn("account-poll", self._poll_account(symbol))

    def _backoff(self, attempt: int) -> float:
        base = min(10.0, 0.25 * 2**attempt)
        return base * (0.5 + self._rng.random() / 2)

    async def _watch(
        self,
        name: str,
        handle: Callable[[Any, str], None],
        fn: Callable[..., Awaitable[Any]],
        *args: Any,
    ) -> None:
        """Call a ccxt.pro watcher forever; on failure report the stream down, back off with
        jitter, and resubscribe (ccxt opens a new connection once the old one is gone)."""
        import ccxt

        symbol = str(args[0]) if args else ""
        attempt = 0
        while True:
            try:
                result = await fn(*args)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self._closed or (task is not None and task.cancelling()):
                    raise
                result, err = None, "connection closed"
            except (TimeoutError, ccxt.BaseError, OSError) as exc:
                if isinstance(exc, ccxt.AuthenticationError):
                    self._status(name, False, f"authentication failed: {exc}"[:300])
                    await asyncio.sleep(30)
                    continue
                result, err = None, f"{type(exc).__name__}: {exc}"[:300]
            else:
                err = ""
            if err:
                self._status(name, False, err)
                await asyncio.sleep(self._backoff(attempt))
                attempt += 1
                continue
            if attempt or name in self._down:
                attempt = 0
                await self._recovered(name, symbol)
            self.stream_counts[name] += 1
            handle(result, symbol)

    async def _recovered(self, name: str, symbol: str) -> None:
        """A private stream is back: fetch what it may have missed, then report it up."""
        if name in ("orders", "fills") and symbol:
            with contextlib.suppress(VenueError):
                for vo in await self.fetch_open_orders(symbol):
                    self._emit(OrderUpdate(vo))
                since = (self._last_fill_at or self._now()) - 60
                for f in await self.fetch_fills(symbol, since):
                    self._emit_fill(f)
        self._status(name, True, "resubscribed")

    async def _watch_book(self, symbol: str) -> None:
        import ccxt

        attempt = 0
        while True:
            try:
                ob = await self.ex.watch_order_book(symbol, self.depth)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self._closed or (task is not None and task.cancelling()):
                    raise
                err, gap = "connection closed", False
            except (TimeoutError, ccxt.BaseError, OSError) as exc:
                err, gap = f"{type(exc).__name__}: {exc}"[:300], isinstance(exc, ccxt.InvalidNonce)
            else:
                err, gap = "", False
            if err:
                self._status("book", False, err)
                if gap:
                    await self._unwatch_book(symbol)
                else:
                    await asyncio.sleep(self._backoff(attempt))
                attempt += 1
                continue
            attempt = 0
            book = self._book(symbol, ob)
            self._book_at = asyncio.get_running_loop().time()
            self._book_nonce = book.seq
            self._status("book", True, "fresh snapshot received")
            self.stream_counts["book"] += 1
            self._last_book = book
            self._emit(BookUpdate(book))

    async def _unwatch_book(self, symbol: str) -> None:
        """Drop the book subscription so the next watch gets a fresh full snapshot."""
        if (self.ex.has or {}).get("unWatchOrderBook"):
            try:
                await asyncio.wait_for(self.ex.un_watch_order_book(symbol), 5)
                return
            except Exception as exc:  # any failure: fall back to a new connection
                log.info("unwatch of %s book failed (%s); reconnecting", symbol, type(exc).__name__)
        with contextlib.suppress(Exception):
            await self.ex.close_ws_clients()

    async def _probe_book(self, symbol: str) -> None:
        """No stream book for `stale_after` s: ask REST. Moved on -> the feed is stale (report
        it, hand out the REST book, resubscribe); unchanged -> the market is just quiet."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.probe_every)
            if loop.time() - self._book_at < self.stale_after:
                continue
            try:
                rest = await self.fetch_order_book(symbol, self.depth)
            except VenueError as exc:
                self._status("book", False, f"no book update and REST failed: {exc.code}")
                continue
            last = self._last_book
            moved = last is None or (
                rest.seq > (self._book_nonce or 0)
                if rest.seq and self._book_nonce
                else (rest.bids, rest.asks) != (last.bids, last.asks)
            )
            self.stream_counts["book_rest"] += 1
            if moved:
                self._status("book", False, f"no book update for {self.stale_after:g}s")
                self._last_book = rest
                self._emit(BookUpdate(rest))
                self._book_at = loop.time()  # probe again after another stale period
                task = self._tasks.pop("book", None)
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                await self._unwatch_book(symbol)
                self._spawn("book", self._watch_book(symbol))
            else:
                self._book_at = loop.time()
                self._last_book = rest
                self._emit(BookUpdate(rest))  # confirmed current as of now

    async def _poll_book(self, symbol: str) -> None:
        """REST fallback for venues without a WebSocket book."""
        while True:
            try:
                book = await self.fetch_order_book(symbol, self.depth)
            except VenueError as exc:
                self._status("book", False, f"REST book failed: {exc.code}")
            else:
                self._status("book", True, "REST book")
                self._last_book = book
                self._emit(BookUpdate(book))
            await asyncio.sleep(self.poll_every)

    async def _poll_account(self, symbol: str) -> None:
        """REST fallback for venues without private streams: open orders and new fills."""
        while True:
            await asyncio.sleep(self.poll_every * 2)
            try:
                since = (self._last_fill_at or self._now()) - 60
                for f in await self.fetch_fills(symbol, since):
                    self._emit_fill(f)
                for vo in await self.fetch_open_orders(symbol):
                    self._emit(OrderUpdate(vo))
            except VenueError as exc:
                self._status("account", False, f"REST polling failed: {exc.code}")
            else:
                self._status("account", True, "REST polling")

    # ----------------------------------------------------------------- stream handlers

    def _on_trades(self, trades: list[dict[str, Any]], symbol: str) -> None:
        for t in trades:
            ts = t.get("timestamp")
            self._emit(
                TradeUpdate(
                    PublicTrade(
                        symbol=symbol,
                        price=_d(t.get("price")),
                        amount=_d(t.get("amount")),
                        taker_side=Side(t.get("side") or "buy"),
                        at=ts / 1000 if ts else self._now(),
                    )
                )
            )

    def _on_orders(self, orders: list[dict[str, Any]], symbol: str) -> None:
        for o in orders:
            if o.get("symbol") not in (None, symbol):
                continue
            self._emit(OrderUpdate(self._order(o, symbol)))

    def _on_my_trades(self, trades: list[dict[str, Any]], symbol: str) -> None:
        for t in trades:
            if t.get("symbol") not in (None, symbol):
                continue
            self._emit_fill(self._fill(t, symbol))

    def _emit_fill(self, fill: Fill) -> None:
        if fill.trade_id in self._seen_fills:
            return
        self._seen_fills[fill.trade_id] = None
        while len(self._seen_fills) > SEEN_FILLS:
            self._seen_fills.popitem(last=False)
        self._last_fill_at = max(self._last_fill_at, fill.at)
        self._emit(FillUpdate(fill))

    def _on_balance(self, bal: dict[str, Any], symbol: str) -> None:
        out: dict[str, Balance] = {}
        for asset, row in bal.items():
            if asset in ("info", "free", "used", "total", "timestamp", "datetime"):
                continue
            if isinstance(row, dict) and ("free" in row or "total" in row):
                free = _d(row.get("free"))
                used = (
                    _d(row.get("used"))
                    if row.get("used") is not None
                    else _d(row.get("total")) - free
                )
                out[asset] = Balance(asset, free, used)
        if out:
            self._emit(BalanceUpdate(out))


def _with_cid(vo: VenueOrder, cid: str) -> VenueOrder:
    if vo.client_order_id == cid:
        return vo
    return VenueOrder(
        client_order_id=cid,
        venue_order_id=vo.venue_order_id,
        symbol=vo.symbol,
        side=vo.side,
        price=vo.price,
        amount=vo.amount,
        filled=vo.filled,
        status=vo.status,
        at=vo.at,
        reason=vo.reason,
    )


def make_ccxt_venue(
    config: BotConfig,
    venue: str,
    *,
    clock: Clock | None = None,
    credentials: Any = None,
    seed: int = 0,
) -> CcxtVenue:
    """The factory `agent.runner.make_venue` calls for every non-sim venue: credentials from
    the agent's store when given (`Credentials` or `agent.credentials.VenueCredentials`),
    else from the environment; never from the config file."""
    creds: Credentials | None
    if credentials is None:
        creds = Credentials.from_env(venue)
    elif isinstance(credentials, Credentials):
        creds = credentials
    else:
        creds = Credentials(
            str(credentials.api_key),
            str(credentials.secret),
            str(getattr(credentials, "passphrase", "") or ""),
        )
    return CcxtVenue(
        venue,
        credentials=creds,
        url=resolve_url(venue, config.bot.venue_url),
        clock=clock,
        seed=seed,
    )
