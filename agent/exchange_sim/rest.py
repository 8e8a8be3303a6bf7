"""Gate REST v4 under `/api/v4/...`: routing, signature check, rate limits, faults, headers.

One dispatcher (instead of aiohttp's router) so every request, known or not, goes through the
same steps in Gate's order: faults, authentication, rate limit, handler; and every answer gets
Gate's headers (`X-In-Time`/`X-Out-Time` in microseconds, `X-Gate-Trace-ID`, the
`X-Gate-RateLimit-*` trio on rate-limited classes, `X-Client-Request-Id` echoed).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus

from aiohttp import web

from agent.exchange_sim import signing
from agent.exchange_sim.config import EmulatorConfig
from agent.exchange_sim.exchange import Account, ApiError, GateExchange, GateOrder
from agent.exchange_sim.faults import ORDER_PATHS, Faults
from agent.venues import gate

PREFIX = gate.REST_PATH_PREFIX
REQUEST_LOG = 2000

Params = dict[str, Any]
Handler = Callable[[Account | None, Params, Any], Awaitable[tuple[int, Any]]]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    private: bool
    limit_class: str  # "public" | "order" | "cancel" | "private"


@dataclass(slots=True)
class Window:
    start: float
    count: int = 0


class RateLimiter:
    """Gate's limits as fixed windows: (limit, window seconds) per class key."""

    def __init__(self) -> None:
        self._windows: dict[str, Window] = {}

    def hit(self, key: str, limit: int, window: float, now: float) -> tuple[bool, int, float]:
        """Count one request; (allowed, remaining, reset epoch seconds)."""
        w = self._windows.get(key)
        start = now - (now % window)
        if w is None or w.start != start:
            w = self._windows[key] = Window(start)
        w.count += 1
        remain = max(0, limit - w.count)
        return w.count <= limit, remain, start + window


class RestApi:
    """Everything under /api/v4; see the module docstring."""

    def __init__(
        self,
        exchange: GateExchange,
        config: EmulatorConfig,
        faults: Faults,
        now: Callable[[], float],
    ) -> None:
        self.ex = exchange
        self.config = config
        self.faults = faults
        self.now = now
        self.limiter = RateLimiter()
        self.log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG)
        self.log_seq = 0
        self.stats: Counter[str] = Counter()
        self.latency_us: deque[float] = deque(maxlen=10_000)
        self._429s: dict[int, deque[float]] = {}
        self._banned_until: dict[int, float] = {}
        self._burst: dict[int, deque[float]] = {}
        self.routes = self._routes()

    # ----------------------------------------------------------------- routing table

    def _routes(self) -> list[Route]:
        def r(method: str, path: str, h: Handler, private: bool, cls: str) -> Route:
            pat = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$")
            return Route(method, pat, h, private, cls)

        return [
            r("GET", "/spot/time", self.h_time, False, "public"),
            r("GET", "/spot/currencies", self.h_currencies, False, "public"),
            r("GET", "/spot/currencies/{currency}", self.h_currency, False, "public"),
            r("GET", "/spot/currency_pairs", self.h_pairs, False, "public"),
            r("GET", "/spot/currency_pairs/{pair}", self.h_pair, False, "public"),
            r("GET", "/margin/currency_pairs", self.h_empty, False, "public"),
            r("GET", "/spot/tickers", self.h_tickers, False, "public"),
            r("GET", "/spot/order_book", self.h_order_book, False, "public"),
            r("GET", "/spot/trades", self.h_trades, False, "public"),
            r("GET", "/account/detail", self.h_account_detail, True, "private"),
            r("GET", "/spot/accounts", self.h_accounts, True, "private"),
            r("POST", "/spot/orders", self.h_create, True, "order"),
            r("GET", "/spot/orders", self.h_list_orders, True, "private"),
            r("DELETE", "/spot/orders", self.h_cancel_all, True, "cancel"),
            r("GET", "/spot/orders/{order_id}", self.h_get_order, True, "private"),
            r("DELETE", "/spot/orders/{order_id}", self.h_cancel, True, "cancel"),
            r("PATCH", "/spot/orders/{order_id}", self.h_amend, True, "order"),
            r("POST", "/spot/batch_orders", self.h_batch_create, True, "order"),
            r("POST", "/spot/cancel_batch_orders", self.h_batch_cancel, True, "cancel"),
            r("GET", "/spot/open_orders", self.h_open_orders, True, "private"),
            r("GET", "/spot/my_trades", self.h_my_trades, True, "private"),
            r("POST", "/spot/countdown_cancel_all", self.h_countdown, True, "private"),
        ]

    # ----------------------------------------------------------------- dispatch

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        t_in = time.time()
        perf0 = time.perf_counter()
        path = request.path
        sub = path[len(PREFIX) :] if path.startswith(PREFIX) else path
        raw_query = request.rel_url.raw_query_string
        body = await request.read()
        headers: dict[str, str] = {"X-Gate-Trace-ID": secrets.token_hex(16)}
        crid = request.headers.get("X-Client-Request-Id")
        if crid:
            headers["X-Client-Request-Id"] = crid
        entry: dict[str, Any] = {
            "seq": self.log_seq + 1,
            "method": request.method,
            "path": path,
            "query": unquote_plus(raw_query),
            "body": body.decode("utf-8", "replace"),
            "status": 0,
        }
        self.log_seq += 1
        self.log.append(entry)
        self.stats["requests"] += 1
        try:
            status, payload = await self._process(request, sub, raw_query, body, headers)
        except ApiError as exc:
            status, payload = exc.status, exc.body()
        entry["status"] = status
        self.stats[f"status_{status}"] += 1
        if self.faults.rest_delay_ms > 0 and self.faults.applies(path):
            await asyncio.sleep(self.faults.rest_delay_ms / 1000)
        headers["X-In-Time"] = str(int(t_in * 1e6))
        headers["X-Out-Time"] = str(int(time.time() * 1e6))
        self.latency_us.append((time.perf_counter() - perf0) * 1e6)
        if status == 204:
            return web.Response(status=204, headers=headers)
        return web.Response(
            status=status,
            text=json.dumps(payload, separators=(",", ":")),
            content_type="application/json",
            headers=headers,
        )

    async def _process(
        self,
        request: web.Request,
        sub: str,
        raw_query: str,
        body: bytes,
        headers: dict[str, str],
    ) -> tuple[int, Any]:
        path = request.path
        f = self.faults
        if f.applies(path):
            if self.now() < f.storm_429_until:
                self.stats["storm_429"] += 1
                self._note_429(request)
                raise ApiError("TOO_MANY_REQUESTS", "Request Rate limit Exceeded (storm)")
            if Faults.take(f, "rest_fail_next"):
                return f.rest_fail_status, {"label": "SERVER_ERROR", "message": "injected failure"}
            if Faults.take(f, "rest_timeout_next"):
                await asyncio.sleep(f.hang_seconds)
                return 504, {"label": "SERVER_ERROR", "message": "injected timeout"}
        route, match = self._match(request.method, sub)
        if route is None:
            if any(r.pattern.match(sub) for r in self.routes):
                raise ApiError("INVALID_URL", f"method {request.method} not allowed", 405)
            raise ApiError("INVALID_URL", f"Unknown path {sub}")
        params: Params = dict(parse_qsl(raw_query, keep_blank_values=True))
        params.update(match)
        data: Any = None
        if body:
            try:
                data = json.loads(body)
            except json.JSONDecodeError:
                raise ApiError("INVALID_PARAM_VALUE", "request body is not valid JSON") from None
        acct: Account | None = None
        if route.private:
            acct = self._authenticate(request, path, raw_query, body)
            self._check_ban(acct)
        self._rate_limit(request, route, sub, acct, params, data, headers)
        hang = (
            route.private
            and ORDER_PATHS.match(path) is not None
            and request.method == "POST"
            and f.applies(path)
            and Faults.take(f, "accept_then_timeout_next")
        )
        result = await route.handler(acct, params, data)
        if hang:
            await asyncio.sleep(f.hang_seconds)
        return result

    def _match(self, method: str, sub: str) -> tuple[Route | None, dict[str, str]]:
        for r in self.routes:
            if r.method == method:
                m = r.pattern.match(sub)
                if m is not None:
                    return r, m.groupdict()
        return None, {}

    # ----------------------------------------------------------------- auth

    def _authenticate(
        self, request: web.Request, path: str, raw_query: str, body: bytes
    ) -> Account:
        key = request.headers.get("KEY")
        sign = request.headers.get("SIGN")
        ts = request.headers.get("Timestamp")
        if not key or not sign or not ts:
            raise ApiError(
                "MISSING_REQUIRED_HEADER", "Missing required header: KEY, SIGN, Timestamp"
            )
        acct = self.ex.account(key)
        if acct is None:
            raise ApiError("INVALID_KEY", "Invalid key provided")
        try:
            ts_f = float(ts)
        except ValueError:
            raise ApiError("REQUEST_EXPIRED", "Timestamp is not a number") from None
        if abs(ts_f - self.now()) > self.config.timestamp_window_seconds:
            raise ApiError(
                "REQUEST_EXPIRED",
                f"gap between request Timestamp and server time exceeds "
                f"{self.config.timestamp_window_seconds:g}",
            )
        # QUERY is signed URL-decoded and in the order it was sent; accept the common decodings.
        queries = dict.fromkeys([unquote_plus(raw_query), unquote(raw_query), raw_query])
        for q in queries:
            want = signing.rest_signature(acct.spec.secret, request.method, path, q, body, ts)
            if signing.equal(want, sign):
                return acct
        raise ApiError("INVALID_SIGNATURE", "Signature mismatch")

    def _check_ban(self, acct: Account) -> None:
        until = self._banned_until.get(acct.uid, 0.0)
        if self.now() < until:
            self.stats["banned_requests"] += 1
            raise ApiError(
                "IP_FORBIDDEN", f"banned for ignoring rate limits until {until:.0f}", 403
            )

    def _note_429(self, request: web.Request, uid: int | None = None) -> None:
        if uid is None:
            key = request.headers.get("KEY")
            acct = self.ex.account(key) if key else None
            uid = acct.uid if acct else None
        if uid is None:
            return
        now = self.now()
        q = self._429s.setdefault(uid, deque())
        q.append(now)
        while q and q[0] < now - self.config.ban_window_seconds:
            q.popleft()
        if len(q) >= self.config.ban_after_429 and self.now() >= self._banned_until.get(uid, 0):
            self._banned_until[uid] = now + self.config.ban_seconds
            self.stats["bans"] += 1

    @property
    def bans(self) -> int:
        return self.stats["bans"]

    # ----------------------------------------------------------------- rate limits

    def _rate_limit(
        self,
        request: web.Request,
        route: Route,
        sub: str,
        acct: Account | None,
        params: Params,
        data: Any,
        headers: dict[str, str],
    ) -> None:
        now = self.now()
        f = self.faults
        if acct is not None and f.burst_limit > 0 and f.applies(request.path):
            q = self._burst.setdefault(acct.uid, deque())
            q.append(now)
            while q and q[0] < now - f.burst_window_ms / 1000:
                q.popleft()
            if len(q) > f.burst_limit:
                self._note_429(request, acct.uid)
                raise ApiError("TOO_MANY_REQUESTS", "Request Rate limit Exceeded (burst)")
        if not self.config.enforce_rate_limits:
            return
        endpoint = route.pattern.pattern
        keys: list[tuple[str, int, float]] = []
        if route.limit_class == "public":
            keys.append((f"ip:{request.remote}:{endpoint}", gate.PUBLIC_PER_10S, 10.0))
        elif acct is not None and route.limit_class == "order":
            for pair in _pairs_of(params, data):
                keys.append((f"order:{acct.uid}:{pair}", gate.ORDER_LIMIT_PER_SECOND, 1.0))
        elif acct is not None and route.limit_class == "cancel":
            keys.append((f"cancel:{acct.uid}", gate.CANCEL_LIMIT_PER_SECOND, 1.0))
        elif acct is not None:
            keys.append((f"uid:{acct.uid}:{endpoint}", gate.PRIVATE_OTHER_PER_10S, 10.0))
        allowed = True
        for key, limit, window in keys:
            ok, remain, reset = self.limiter.hit(key, limit, window, now)
            headers["X-Gate-RateLimit-Requests-Remain"] = str(remain)
            headers["X-Gate-RateLimit-Limit"] = str(limit)
            headers["X-Gate-RateLimit-Reset-Timestamp"] = str(int(reset if not ok else now))
            allowed = allowed and ok
        if not allowed:
            self.stats["rate_limited"] += 1
            self._note_429(request, acct.uid if acct else None)
            raise ApiError("TOO_MANY_REQUESTS", "Request Rate limit Exceeded")

    # ----------------------------------------------------------------- public handlers

    async def h_time(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        return 200, {"server_time": int(self.now() * 1000)}

    async def h_currencies(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        return 200, self.ex.currencies()

    async def h_currency(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        return 200, self.ex.currency(p["currency"])

    async def h_pairs(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        return 200, self.ex.currency_pairs()

    async def h_pair(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        return 200, self.ex.currency_pair(self.ex.market(p["pair"]))

    async def h_empty(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        return 200, []

    async def h_tickers(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        return 200, self.ex.tickers(p.get("currency_pair") or None)

    async def h_order_book(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        limit = _int(p.get("limit"), 10, "limit", 1, 1000)
        with_id = str(p.get("with_id", "false")).lower() == "true"
        return 200, self.ex.order_book(p.get("currency_pair", ""), limit, with_id)

    async def h_trades(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        limit = _int(p.get("limit"), 100, "limit", 1, 1000)
        return 200, self.ex.public_trades(p.get("currency_pair", ""), limit)

    # ----------------------------------------------------------------- private handlers

    async def h_account_detail(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        assert acct is not None
        return 200, {
            "user_id": acct.uid,
            "ip_whitelist": [],
            "currency_pairs": [],
            "key": {"mode": 1},
            "tier": 0,
        }

    async def h_accounts(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        assert acct is not None
        return 200, self.ex.balances(acct, p.get("currency") or None)

    async def h_create(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        assert acct is not None
        if not isinstance(d, dict):
            raise ApiError("INVALID_PARAM_VALUE", "order body must be a JSON object")
        if Faults.take(self.faults, "reject_next_orders"):
            raise ApiError(self.faults.reject_label, "injected rejection")
        return 201, self.ex.create_order(acct, d).to_json()

    async def h_batch_create(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        assert acct is not None
        if not isinstance(d, list) or not d:
            raise ApiError("INVALID_PARAM_VALUE", "batch body must be a non-empty JSON array")
        pairs = Counter(str(o.get("currency_pair")) if isinstance(o, dict) else "" for o in d)
        if len(pairs) > 4:
            raise ApiError("TOO_MANY_CURRENCY_PAIRS", "at most 4 currency pairs per batch")
        if any(n > gate.MAX_BATCH_CREATE for n in pairs.values()):
            raise ApiError("TOO_MANY_ORDERS", f"at most {gate.MAX_BATCH_CREATE} orders per pair")
        accounts = {str(o.get("account", "spot")) for o in d if isinstance(o, dict)}
        if len(accounts) > 1:
            raise ApiError("MIXED_ACCOUNT_TYPE", "one account type per batch")
        out = []
        for item in d:
            text = item.get("text", "") if isinstance(item, dict) else ""
            try:
                if Faults.take(self.faults, "reject_next_orders"):
                    raise ApiError(self.faults.reject_label, "injected rejection")
                order = self.ex.create_order(acct, item)
                out.append({**order.to_json(), "succeeded": True})
            except ApiError as exc:
                out.append(
                    {
                        "text": text,
                        "currency_pair": item.get("currency_pair", "")
                        if isinstance(item, dict)
                        else "",
                        "account": "spot",
                        "succeeded": False,
                        "label": exc.label,
                        "message": exc.message,
                    }
                )
        return 200, out

    async def h_list_orders(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        assert acct is not None
        pair = p.get("currency_pair")
        self.ex.market(pair)
        status = p.get("status", "open")
        limit = _int(p.get("limit"), 100, "limit", 1, 1000)
        page = _int(p.get("page"), 1, "page", 1, 10**6)
        if status == "open":
            orders: list[GateOrder] = self.ex.open_orders(acct, pair)
        elif status == "finished":
            orders = self.ex.finished_orders(
                acct, str(pair), _opt_float(p, "from"), _opt_float(p, "to")
            )
        else:
            raise ApiError("INVALID_PARAM_VALUE", "invalid argument: status")
        side = p.get("side")
        if side:
            orders = [o for o in orders if o.side.value == side]
        chunk = orders[(page - 1) * limit : page * limit]
        return 200, [o.to_json() for o in chunk]

    async def h_cancel_all(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        assert acct is not None
        orders = self.ex.cancel_all(acct, p.get("currency_pair") or None, p.get("side") or None)
        return 200, [{**o.to_json(), "succeeded": True, "label": "", "message": ""} for o in orders]

    async def h_get_order(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        assert acct is not None
        return 200, self.ex.find(acct, p["order_id"], p.get("currency_pair")).to_json()

    async def h_cancel(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        assert acct is not None
        return 200, self.ex.cancel_order(acct, p["order_id"], p.get("currency_pair")).to_json()

    async def h_amend(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        assert acct is not None
        params = dict(p)
        if isinstance(d, dict):
            params.update(d)
        return 200, self.ex.amend(acct, p["order_id"], params).to_json()

    async def h_batch_cancel(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        assert acct is not None
        if not isinstance(d, list) or not d:
            raise ApiError("INVALID_PARAM_VALUE", "batch body must be a non-empty JSON array")
        if len(d) > gate.MAX_BATCH_CANCEL:
            raise ApiError("TOO_MANY_ORDERS", f"at most {gate.MAX_BATCH_CANCEL} orders per batch")
        out = []
        for item in d:
            item = item if isinstance(item, dict) else {}
            oid = str(item.get("id", ""))
            pair = item.get("currency_pair")
            row: dict[str, Any] = {
                "currency_pair": pair or "",
                "id": oid,
                "account": item.get("account", "spot"),
            }
            try:
                o = self.ex.cancel_order(acct, oid, pair)
                row.update(text=o.text, succeeded=True, label="", message="")
            except ApiError as exc:
                row.update(text="", succeeded=False, label=exc.label, message=exc.message)
            out.append(row)
        return 200, out

    async def h_open_orders(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        assert acct is not None
        limit = _int(p.get("limit"), 100, "limit", 1, 100)
        page = _int(p.get("page"), 1, "page", 1, 10**6)
        by_pair: dict[str, list[GateOrder]] = {}
        for o in self.ex.open_orders(acct):
            by_pair.setdefault(o.pair, []).append(o)
        out = []
        for pair, orders in by_pair.items():
            chunk = orders[(page - 1) * limit : page * limit]
            if chunk:
                out.append(
                    {
                        "currency_pair": pair,
                        "total": len(orders),
                        "orders": [o.to_json() for o in chunk],
                    }
                )
        return 200, out

    async def h_my_trades(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        assert acct is not None
        pair = p.get("currency_pair") or None
        if pair:
            self.ex.market(pair)
        limit = _int(p.get("limit"), 100, "limit", 1, 1000)
        page = _int(p.get("page"), 1, "page", 1, 10**6)
        rows = self.ex.my_trades(
            acct, pair, p.get("order_id") or None, _opt_float(p, "from"), _opt_float(p, "to")
        )
        return 200, rows[(page - 1) * limit : page * limit]

    async def h_countdown(self, acct: Account | None, p: Params, d: Any) -> tuple[int, Any]:
        assert acct is not None
        if not isinstance(d, dict) or "timeout" not in d:
            raise ApiError("INVALID_PARAM_VALUE", "timeout is required")
        timeout = _int(d.get("timeout"), 0, "timeout", 0, 86400)
        trigger = self.ex.countdown(acct, timeout, d.get("currency_pair") or None)
        return 200, {"triggerTime": trigger}


def _int(value: Any, default: int, name: str, lo: int, hi: int) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(str(value))
    except ValueError:
        raise ApiError("INVALID_PARAM_VALUE", f"invalid argument: {name}") from None
    if not lo <= n <= hi:
        raise ApiError("INVALID_PARAM_VALUE", f"{name} must be in [{lo}, {hi}]")
    return n


def _opt_float(p: Params, name: str) -> float | None:
    v = p.get(name)
    if v is None or v == "":
        return None
    try:
        return float(str(v))
    except ValueError:
        raise ApiError("INVALID_PARAM_VALUE", f"invalid argument: {name}") from None


def _pairs_of(params: Params, data: Any) -> list[str]:
    if isinstance(data, list):
        pairs = {str(o.get("currency_pair", "")) for o in data if isinstance(o, dict)}
        return sorted(pairs) or [""]
    if isinstance(data, dict) and data.get("currency_pair"):
        return [str(data["currency_pair"])]
    return [str(params.get("currency_pair", ""))]
