"""Gate spot WebSocket v4 on `/ws/v4/`: channel subscriptions, private channel auth, the WS-API
login/order calls, and the order book publisher.

Book ids: every market has one update id (`Market.update_id`), bumped on each publish tick in
which the book changed. Every book stream of the market (`spot.obu` at 50 and 400 levels,
`spot.order_book_update`, `spot.order_book`) publishes on such a tick, an empty delta if its
own levels did not move, so `U == previous u + 1` holds on every stream and REST
`/spot/order_book?with_id=true` ids compare with WebSocket ids. RFC 6455 ping frames are
answered by aiohttp (autoping); the application-level `spot.ping` gets `spot.pong`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from agent.exchange_sim import signing
from agent.exchange_sim.config import EmulatorConfig
from agent.exchange_sim.exchange import Account, ApiError, GateExchange, Market
from agent.exchange_sim.faults import Faults
from agent.venues import gate

PRIVATE_CHANNELS = frozenset({"spot.orders", "spot.usertrades", "spot.balances"})
PUBLIC_CHANNELS = frozenset(
    {"spot.obu", "spot.trades", "spot.tickers", "spot.order_book_update", "spot.order_book"}
)
LEGACY_DEPTH = 1000
TICKER_EVERY = 1.0

Levels = dict[str, str]


@dataclass(slots=True)
class BookState:
    """Last published levels of one book stream (price text -> amount text)."""

    bids: Levels = field(default_factory=dict)
    asks: Levels = field(default_factory=dict)

    def diff(self, bids: list[list[str]], asks: list[list[str]]) -> tuple[list[Any], list[Any]]:
        nb = {p: q for p, q in bids}
        na = {p: q for p, q in asks}
        db = _diff(self.bids, nb, reverse=True)
        da = _diff(self.asks, na, reverse=False)
        self.bids, self.asks = nb, na
        return db, da


def _diff(old: Levels, new: Levels, *, reverse: bool) -> list[list[str]]:
    out = [[p, q] for p, q in new.items() if old.get(p) != q]
    out.extend([p, "0"] for p in old if p not in new)
    out.sort(key=lambda lv: Decimal(lv[0]), reverse=reverse)
    return out


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    conn_id: str
    remote: str
    subs: dict[tuple[str, str], int | None] = field(default_factory=dict)  # -> uid (private)
    login_uid: int | None = None
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)


class WsHub:
    """All WebSocket connections of the emulator and what they subscribed to."""

    def __init__(
        self,
        exchange: GateExchange,
        config: EmulatorConfig,
        faults: Faults,
        now: Callable[[], float],
    ) -> None:
        self.exchange = exchange
        self.config = config
        self.faults = faults
        self.now = now
        self.conns: set[Connection] = set()
        self.stats: dict[str, int] = {"ws_connections": 0, "ws_messages_out": 0, "ws_drops": 0}
        self._ids = itertools.count(1)
        self._obu: dict[tuple[str, int], BookState] = {}
        self._legacy: dict[str, BookState] = {}
        self._versions: dict[str, int] = {}
        self._ticker_dirty: set[str] = set()
        self._ticker_sent: dict[str, float] = {}
        self._publisher: asyncio.Task[None] | None = None
        exchange.push = self.on_push

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        for pair, m in self.exchange.markets.items():
            self._legacy[pair] = BookState()
            self._versions[pair] = -1
            self._tick_market(pair, m, send=False)
        self._publisher = asyncio.get_running_loop().create_task(self._publish_loop())

    async def stop(self) -> None:
        if self._publisher is not None:
            self._publisher.cancel()
            await asyncio.gather(self._publisher, return_exceptions=True)
        for c in list(self.conns):
            await c.ws.close(code=1001, message=b"server shutting down")

    async def drop_all(self) -> int:
        """Fault: cut every connection abruptly (no close handshake)."""
        n = 0
        for c in list(self.conns):
            n += 1
            transport = c.ws._req.transport if c.ws._req is not None else None
            if transport is not None:
                transport.abort()
            else:
                await c.ws.close()
            c.queue.put_nowait(None)
        self.stats["ws_drops"] += n
        return n

    # ----------------------------------------------------------------- connection

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, heartbeat=None, max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        conn = Connection(ws=ws, conn_id=secrets.token_hex(8), remote=request.remote or "")
        self.conns.add(conn)
        self.stats["ws_connections"] += 1
        writer = asyncio.get_running_loop().create_task(self._writer(conn))
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self._on_text(conn, msg.data)
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            self.conns.discard(conn)
            conn.queue.put_nowait(None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
        return ws

    async def _writer(self, conn: Connection) -> None:
        while True:
            text = await conn.queue.get()
            if text is None or conn.ws.closed:
                return
            try:
                await conn.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return
            self.stats["ws_messages_out"] += 1

    def _send(self, conn: Connection, msg: dict[str, Any], *, push: bool = False) -> None:
        if push and self.faults.stall_ws:
            return
        conn.queue.put_nowait(json.dumps(msg, separators=(",", ":")))

    def _envelope(self, channel: str, event: str, **extra: Any) -> dict[str, Any]:
        t = self.now()
        return {
            "time": int(t),
            "time_ms": int(t * 1000),
            "channel": channel,
            "event": event,
            **extra,
        }

    # ----------------------------------------------------------------- requests

    def _on_text(self, conn: Connection, text: str) -> None:
        try:
            msg = json.loads(text)
        except json.JSONDecodeError:
            self._send(conn, {"error": {"code": 1, "message": "invalid JSON"}})
            return
        if not isinstance(msg, dict):
            self._send(conn, {"error": {"code": 1, "message": "request must be an object"}})
            return
        channel = str(msg.get("channel", ""))
        event = str(msg.get("event", ""))
        if channel == "spot.ping":
            self._send(conn, self._envelope("spot.pong", "", result=None))
            return
        if event == "api":
            self._on_api(conn, msg, channel)
            return
        if event not in ("subscribe", "unsubscribe"):
            self._sub_error(conn, msg, 1, f"unknown event {event!r}")
            return
        if channel not in PRIVATE_CHANNELS and channel not in PUBLIC_CHANNELS:
            self._sub_error(conn, msg, 1, f"unknown channel {channel!r}")
            return
        uid: int | None = None
        if channel in PRIVATE_CHANNELS:
            try:
                uid = self._auth_channel(msg, channel, event)
            except ApiError as exc:
                self._sub_error(conn, msg, gate.WS_ERR_AUTH, json.dumps(exc.body()) + "\n")
                return
        payload = msg.get("payload")
        keys = self._keys(channel, payload)
        if keys is None:
            self._sub_error(conn, msg, gate.WS_ERR_BAD_REQUEST, f"invalid payload {payload!r}")
            return
        if event == "subscribe":
            for k in keys:
                if (channel, k) in conn.subs:
                    self._sub_error(
                        conn, msg, gate.WS_ERR_BAD_REQUEST, f"{channel} {k} already subscribed"
                    )
                    return
            for k in keys:
                conn.subs[(channel, k)] = uid
            self._ack(conn, msg)
            for k in keys:
                self._after_subscribe(conn, channel, k, payload)
        else:
            for k in keys:
                conn.subs.pop((channel, k), None)
            self._ack(conn, msg)

    def _keys(self, channel: str, payload: Any) -> list[str] | None:
        if channel == "spot.balances":
            return [""]
        if not isinstance(payload, list) or not payload:
            return None
        if channel == "spot.obu":
            out = []
            for p in payload:
                parts = str(p).split(".")
                if len(parts) != 3 or parts[0] != "ob" or parts[1] not in self.exchange.markets:
                    return None
                if not parts[2].isdigit() or int(parts[2]) not in gate.OBU_LEVELS:
                    return None
                out.append(f"{parts[1]}.{parts[2]}")
            return out
        if channel in ("spot.order_book_update", "spot.order_book"):
            pair = str(payload[0])
            return [pair] if pair in self.exchange.markets else None
        keys = [str(p) for p in payload]
        allowed = set(self.exchange.markets)
        if channel in PRIVATE_CHANNELS:
            allowed.add("!all")
        return keys if all(k in allowed for k in keys) else None

    def _auth_channel(self, msg: dict[str, Any], channel: str, event: str) -> int:
        auth = msg.get("auth")
        if not isinstance(auth, dict) or auth.get("method") != "api_key":
            raise ApiError("MISSING_REQUIRED_HEADER", "auth required")
        acct = self.exchange.account(str(auth.get("KEY", "")))
        if acct is None:
            raise ApiError("INVALID_KEY", "Invalid key provided")
        t = msg.get("time")
        try:
            t_f = float(str(t))
        except ValueError:
            raise ApiError("INVALID_PARAM_VALUE", "time is required") from None
        if abs(t_f - self.now()) > self.config.timestamp_window_seconds:
            raise ApiError("REQUEST_EXPIRED", "request time is out of the allowed window")
        want = signing.ws_channel_signature(acct.spec.secret, channel, event, str(t))
        if not signing.equal(want, str(auth.get("SIGN", ""))):
            raise ApiError("INVALID_SIGNATURE", "Signature mismatch")
        return acct.uid

    def _ack(self, conn: Connection, msg: dict[str, Any]) -> None:
        trace = secrets.token_hex(16)
        self._send(
            conn,
            self._envelope(
                str(msg.get("channel")),
                str(msg.get("event")),
                id=msg.get("id"),
                conn_id=conn.conn_id,
                trace_id=trace,
                payload=msg.get("payload"),
                result={"status": "success"},
                requestId=trace,
            ),
        )

    def _sub_error(self, conn: Connection, msg: dict[str, Any], code: int, message: str) -> None:
        trace = secrets.token_hex(16)
        self._send(
            conn,
            self._envelope(
                str(msg.get("channel")),
                str(msg.get("event")),
                id=msg.get("id"),
                conn_id=conn.conn_id,
                trace_id=trace,
                payload=msg.get("payload"),
                error={"code": code, "message": message},
                result={"status": "fail"},
                requestId=trace,
            ),
        )

    def _after_subscribe(self, conn: Connection, channel: str, key: str, payload: Any) -> None:
        """Initial data: a full obu snapshot, a tickers push; legacy books need REST."""
        if channel == "spot.obu":
            pair, level = key.split(".")
            m = self.exchange.markets[pair]
            self._tick_market(pair, m, send=True)  # publish pending changes first
            state = self._obu.setdefault((pair, int(level)), BookState())
            bids, asks = self.exchange.depth(pair, int(level))
            state.bids = {p: q for p, q in bids}
            state.asks = {p: q for p, q in asks}
            if not self.faults.stall_book:
                result = {
                    "t": int(self.now() * 1000),
                    "full": True,
                    "s": f"ob.{pair}.{level}",
                    "u": m.update_id,
                    "b": bids,
                    "a": asks,
                }
                self._send(conn, self._envelope("spot.obu", "update", result=result), push=True)
        elif channel == "spot.tickers":
            m = self.exchange.markets[key]
            self._send(
                conn,
                self._envelope("spot.tickers", "update", result=self.exchange.ticker(m)),
                push=True,
            )

    # ----------------------------------------------------------------- WS API

    def _on_api(self, conn: Connection, msg: dict[str, Any], channel: str) -> None:
        payload = msg.get("payload") if isinstance(msg.get("payload"), dict) else {}
        assert isinstance(payload, dict)
        req_id = payload.get("req_id", msg.get("id"))
        try:
            acct = self._auth_api(conn, payload, channel)
            result = self._api_call(acct, channel, payload.get("req_param") or {})
        except ApiError as exc:
            self._send(conn, self._api_answer(conn, channel, req_id, str(exc.status), exc=exc))
            return
        self._send(conn, self._api_answer(conn, channel, req_id, "200", result=result))

    def _auth_api(self, conn: Connection, payload: dict[str, Any], channel: str) -> Account:
        key = payload.get("api_key")
        if channel != "spot.login" and not key and conn.login_uid is not None:
            return self.exchange.by_uid[conn.login_uid]
        acct = self.exchange.account(str(key or ""))
        if acct is None:
            raise ApiError("INVALID_KEY", "Invalid key provided")
        ts = str(payload.get("timestamp", ""))
        try:
            ts_f = float(ts)
        except ValueError:
            raise ApiError("INVALID_PARAM_VALUE", "timestamp is required") from None
        if abs(ts_f - self.now()) > self.config.timestamp_window_seconds:
            raise ApiError("REQUEST_EXPIRED", "request time is out of the allowed window")
        param = payload.get("req_param")
        candidates = {json.dumps(param, separators=(",", ":"))}
        candidates.add(json.dumps(param, separators=(",", ":"), ensure_ascii=False))
        if not param:
            candidates.update({"", "{}"})
        got = str(payload.get("signature", ""))
        if not any(
            signing.equal(signing.ws_api_signature(acct.spec.secret, channel, c, ts), got)
            for c in candidates
        ):
            raise ApiError("INVALID_SIGNATURE", "Signature mismatch")
        if channel == "spot.login":
            conn.login_uid = acct.uid
        return acct

    def _api_call(self, acct: Account, channel: str, param: Any) -> Any:
        ex = self.exchange
        if channel == "spot.login":
            return {"api_key": acct.spec.key, "uid": str(acct.uid)}
        if not isinstance(param, dict):
            raise ApiError("INVALID_PARAM_VALUE", "req_param must be an object")
        if channel == "spot.order_place":
            param = {**param}
            param.setdefault("text", gate.DEFAULT_TEXT_WS)
            return ex.create_order(acct, param).to_json()
        if channel == "spot.order_cancel":
            return ex.cancel_order(
                acct, str(param.get("order_id")), param.get("currency_pair")
            ).to_json()
        if channel == "spot.order_status":
            return ex.find(acct, str(param.get("order_id")), param.get("currency_pair")).to_json()
        if channel == "spot.order_amend":
            return ex.amend(acct, str(param.get("order_id")), param).to_json()
        raise ApiError("INVALID_PARAM_VALUE", f"unknown API channel {channel}")

    def _api_answer(
        self,
        conn: Connection,
        channel: str,
        req_id: Any,
        status: str,
        *,
        result: Any = None,
        exc: ApiError | None = None,
    ) -> dict[str, Any]:
        t = int(self.now() * 1000)
        data: dict[str, Any] = {"errs": exc.body()} if exc is not None else {"result": result}
        return {
            "request_id": req_id,
            "ack": False,
            "header": {
                "response_time": str(t),
                "status": status,
                "channel": channel,
                "event": "api",
                "client_id": conn.remote,
                "conn_id": conn.conn_id,
                "trace_id": secrets.token_hex(16),
            },
            "data": data,
        }

    # ----------------------------------------------------------------- pushes

    def on_push(self, channel: str, uid: int | None, pair: str | None, result: Any) -> None:
        if channel == "spot.trades" and pair is not None:
            self._ticker_dirty.add(pair)
        msg: dict[str, Any] | None = None
        for c in self.conns:
            if not self._wants(c, channel, uid, pair):
                continue
            if msg is None:
                msg = self._envelope(channel, "update", result=result)
            self._send(c, msg, push=True)

    @staticmethod
    def _wants(c: Connection, channel: str, uid: int | None, pair: str | None) -> bool:
        if uid is None:
            return pair is not None and (channel, pair) in c.subs
        return any(c.subs.get((channel, key), -1) == uid for key in ("!all", pair or "", ""))

    async def _publish_loop(self) -> None:
        ms = self.config.book_interval_ms or self.config.scenario.book_publish_ms
        interval = max(0.01, ms / 1000)
        while True:
            await asyncio.sleep(interval)
            for pair, m in self.exchange.markets.items():
                self._tick_market(pair, m, send=True)
                self._tick_ticker(pair, m)

    def _tick_market(self, pair: str, m: Market, *, send: bool) -> None:
        version = m.engine.book_version
        if version == self._versions.get(pair):
            return
        self._versions[pair] = version
        m.update_id += 1
        u = m.update_id
        t = int(self.now() * 1000)
        stalled = self.faults.stall_book
        gap = not stalled and send and Faults.take(self.faults, "book_gap_next")
        out = send and not stalled and not gap
        bids, asks = self.exchange.depth(pair, LEGACY_DEPTH)
        db, da = self._legacy[pair].diff(bids, asks)
        if out:
            legacy = {
                "t": t,
                "e": "depthUpdate",
                "E": t // 1000,
                "s": pair,
                "U": u,
                "u": u,
                "b": db,
                "a": da,
            }
            self._push_public("spot.order_book_update", pair, legacy)
            snap = {
                "t": t,
                "lastUpdateId": u,
                "s": pair,
                "bids": bids[:100],
                "asks": asks[:100],
            }
            self._push_public("spot.order_book", pair, snap)
        for level in gate.OBU_LEVELS:
            key = f"{pair}.{level}"
            if not any(("spot.obu", key) in c.subs for c in self.conns):
                self._obu.pop((pair, level), None)
                continue
            state = self._obu.setdefault((pair, level), BookState())
            ob, oa = state.diff(bids[:level], asks[:level])
            if out:
                delta = {"t": t, "s": f"ob.{pair}.{level}", "U": u, "u": u, "b": ob, "a": oa}
                self._push_public("spot.obu", key, delta)

    def _push_public(self, channel: str, key: str, result: Any) -> None:
        msg: dict[str, Any] | None = None
        for c in self.conns:
            if (channel, key) in c.subs:
                if msg is None:
                    msg = self._envelope(channel, "update", result=result)
                self._send(c, msg, push=True)

    def _tick_ticker(self, pair: str, m: Market) -> None:
        if pair not in self._ticker_dirty:
            return
        now = time.monotonic()
        if now - self._ticker_sent.get(pair, 0.0) < TICKER_EVERY:
            return
        self._ticker_dirty.discard(pair)
        self._ticker_sent[pair] = now
        self._push_public("spot.tickers", pair, self.exchange.ticker(m))
