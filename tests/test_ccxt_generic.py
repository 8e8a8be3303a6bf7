"""An uncertified venue: a second ccxt exchange class (a minimal spot exchange without batch
orders, post-only, amend, WebSockets or a dead-man switch) pointed at a tiny fake over HTTP.
Shows capability detection from `has`/`features` and clean refusal of what it lacks."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import pytest
from aiohttp import web
from ccxt.base.decimal_to_precision import TICK_SIZE

from agent.config import load_config
from agent.model import OrderRequest, Side, TimeInForce, VenueOrderStatus
from agent.venues.base import BookUpdate, VenueError, VenueErrorCode, VenueEvent
from agent.venues.ccxt_venue import CcxtVenue, Credentials


class FakeSpot(ccxt_async.Exchange):  # type: ignore[misc]
    """Just enough of a ccxt exchange: markets, balance, book, single orders, trades."""

    def describe(self) -> dict[str, Any]:
        return self.deep_extend(
            super().describe(),
            {
                "id": "fakespot",
                "name": "FakeSpot",
                "rateLimit": 100,
                "precisionMode": TICK_SIZE,
                "has": {
                    "spot": True,
                    "fetchMarkets": True,
                    "fetchBalance": True,
                    "fetchOrderBook": True,
                    "createOrder": True,
                    "cancelOrder": True,
                    "fetchOpenOrders": True,
                    "fetchOrder": False,
                    "fetchMyTrades": True,
                    "createOrders": False,
                    "cancelOrders": False,
                    "editOrder": False,
                    "watchOrderBook": False,
                },
                "urls": {"api": {"rest": "https://api.fakespot.example/v1"}},
                "features": {"spot": {"createOrder": {"timeInForce": {"PO": False}}}},
            },
        )

    async def _get(self, path: str, method: str = "GET", body: Any = None) -> Any:
        url = self.urls["api"]["rest"] + path
        data = None if body is None else self.json(body)
        headers = {"Content-Type": "application/json", "X-Key": self.apiKey}
        return await self.fetch(url, method, headers, data)

    async def fetch_markets(self, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        out = []
        for m in await self._get("/markets"):
            out.append(
                self.safe_market_structure(
                    {
                        "id": m["id"],
                        "symbol": m["base"] + "/" + m["quote"],
                        "base": m["base"],
                        "quote": m["quote"],
                        "baseId": m["base"],
                        "quoteId": m["quote"],
                        "type": "spot",
                        "spot": True,
                        "active": True,
                        "maker": 0.001,
                        "taker": 0.002,
                        "precision": {"amount": 1.0, "price": 1e-06},
                        "limits": {"cost": {"min": 3.0}, "amount": {"min": 1.0}},
                        "info": m,
                    }
                )
            )
        return out

    async def fetch_balance(self, params: dict[str, Any] | None = None) -> Any:
        raw = await self._get("/balance")
        result: dict[str, Any] = {"info": raw}
        for c, v in raw.items():
            result[c] = {"free": float(v["free"]), "used": float(v["used"])}
        return self.safe_balance(result)

    async def fetch_order_book(
        self, symbol: str, limit: int | None = None, params: dict[str, Any] | None = None
    ) -> Any:
        raw = await self._get("/book")
        return self.parse_order_book(raw, symbol, None)

    def _parse(self, o: dict[str, Any]) -> Any:
        return self.safe_order(
            {
                "id": o["id"],
                "clientOrderId": o["cid"],
                "symbol": "USHARK/USDT",
                "type": "limit",
                "side": o["side"],
                "price": float(o["price"]),
                "amount": float(o["amount"]),
                "filled": 0.0,
                "status": o["status"],
                "info": o,
            }
        )

    async def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: Any,
        price: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        params = params or {}
        body = {
            "side": side,
            "amount": str(amount),
            "price": str(price),
            "cid": params.get("clientOrderId", ""),
        }
        return self._parse(await self._get("/orders", "POST", body))

    async def cancel_order(self, id: str, symbol: str | None = None, params: Any = None) -> Any:
        return self._parse(await self._get(f"/orders/{id}", "DELETE"))

    async def fetch_open_orders(self, symbol: str | None = None, *a: Any, **k: Any) -> Any:
        return [self._parse(o) for o in await self._get("/orders")]

    async def fetch_my_trades(self, symbol: str | None = None, *a: Any, **k: Any) -> Any:
        return []


@pytest.fixture
async def fake() -> AsyncIterator[str]:
    orders: dict[str, dict[str, Any]] = {}
    ids = itertools.count(1)
    seen_keys: set[str] = set()

    async def markets(r: web.Request) -> web.Response:
        return web.json_response([{"id": "USHARKUSDT", "base": "USHARK", "quote": "USDT"}])

    async def balance(r: web.Request) -> web.Response:
        seen_keys.add(r.headers.get("X-Key", ""))
        return web.json_response({"USDT": {"free": "100", "used": "0"}})

    async def book(r: web.Request) -> web.Response:
        return web.json_response({"bids": [["0.0019", "1000"]], "asks": [["0.0021", "1000"]]})

    async def create(r: web.Request) -> web.Response:
        body = await r.json()
        o = {**body, "id": str(next(ids)), "status": "open"}
        orders[o["id"]] = o
        return web.json_response(o)

    async def list_orders(r: web.Request) -> web.Response:
        return web.json_response([o for o in orders.values() if o["status"] == "open"])

    async def cancel(r: web.Request) -> web.Response:
        o = orders[r.match_info["id"]]
        o["status"] = "canceled"
        return web.json_response(o)

    app = web.Application()
    app.router.add_get("/v1/markets", markets)
    app.router.add_get("/v1/balance", balance)
    app.router.add_get("/v1/book", book)
    app.router.add_post("/v1/orders", create)
    app.router.add_get("/v1/orders", list_orders)
    app.router.add_delete("/v1/orders/{id}", cancel)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_capabilities_are_detected_and_gaps_refused(fake: str) -> None:
    ex = FakeSpot({"apiKey": "k", "secret": "s", "enableRateLimit": False})
    venue = CcxtVenue(
        "fakespot", exchange=ex, url=fake, credentials=Credentials("k", "s"), poll_every=0.2
    )
    await venue.start()
    try:
        caps = venue.capabilities
        assert not venue.profile.certified and venue.profile.budget.shared
        assert (caps.batch_create, caps.batch_cancel, caps.amend, caps.post_only) == (
            False,
            False,
            False,
            False,
        )
        assert not (caps.watch_orders or caps.watch_my_trades or caps.watch_balance)
        assert not caps.dead_man_switch
        assert ex.urls["api"]["rest"] == fake + "/v1"
        # a post-only configuration is refused with a message that says what to do
        problems = venue.check_config(load_config("examples/ushark.yaml"))
        assert len(problems) == 1 and problems[0].startswith("market_making.post_only:")
        assert "post_only: false" in problems[0]
        sym = "USHARK/USDT"
        rules = await venue.market_rules(sym)
        assert rules.tick_size == Decimal("0.000001") and rules.min_notional == Decimal(3)
        po = OrderRequest("mmabc-1", sym, Side.BUY, Decimal("0.0018"), Decimal(2000))
        (refused,) = await venue.create_orders([po])
        assert refused.error == VenueErrorCode.INVALID_ORDER and "post-only" in refused.message
        gtc = [
            OrderRequest(
                "mmabc-2", sym, Side.BUY, Decimal("0.0018"), Decimal(2000), TimeInForce.GTC
            ),
            OrderRequest(
                "mmabc-3", sym, Side.SELL, Decimal("0.0022"), Decimal(2000), TimeInForce.GTC
            ),
        ]
        placed = await venue.create_orders(gtc)
        assert all(r.order is not None for r in placed)
        assert venue.calls["create_order"] == 2 and venue.calls["create_orders"] == 0
        opened = await venue.fetch_open_orders(sym)
        assert {o.client_order_id for o in opened} == {"mmabc-2", "mmabc-3"}
        cancelled = await venue.cancel_orders(sym, [("mmabc-2", ""), ("mmabc-3", "")])
        assert all(c.ok for c in cancelled) and venue.calls["cancel_order"] == 2
        assert cancelled[0].order is not None
        assert cancelled[0].order.status is VenueOrderStatus.CANCELED
        with pytest.raises(VenueError, match="no dead-man switch"):
            await venue.arm_dead_man(sym, 30)
        # no WebSocket: the book comes from REST polling
        events: list[VenueEvent] = []

        async def consume() -> None:
            async for ev in venue.stream(sym):
                events.append(ev)

        task = asyncio.create_task(consume())
        for _ in range(100):
            if any(isinstance(e, BookUpdate) for e in events):
                break
            await asyncio.sleep(0.05)
        task.cancel()
        book = next(e.book for e in events if isinstance(e, BookUpdate))
        assert book.best_bid == Decimal("0.0019") and book.best_ask == Decimal("0.0021")
    finally:
        await venue.close()
        await ex.close()
