"""The emulator process: one aiohttp app serving REST (`/api/v4/...`), WebSocket (`/ws/v4/`)
and the loopback-only admin API (`/_sim/...`), with the exchange running in the same loop in
real time.

Used by `mmbot exchange-sim` and by tests (`async with ExchangeEmulator(config) as emu:`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import signal
import statistics
from types import TracebackType
from typing import Any

from aiohttp import web

from agent.clock import Clock
from agent.exchange_sim.config import EmulatorConfig
from agent.exchange_sim.exchange import GateExchange
from agent.exchange_sim.faults import Faults
from agent.exchange_sim.rest import RestApi
from agent.exchange_sim.ws import WsHub
from agent.venues import gate


def _loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


class ExchangeEmulator:
    """A Gate-protocol exchange on `host:port` (port 0 picks a free one)."""

    def __init__(self, config: EmulatorConfig, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self.host = host
        self.port = port
        self.faults = Faults()
        self.clock: Clock | None = None
        self.exchange: GateExchange | None = None
        self.hub: WsHub | None = None
        self.rest: RestApi | None = None
        self._runner: web.AppRunner | None = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.clock = Clock(loop)
        exchange = GateExchange(self.config, self.clock)
        exchange.start()
        now = self.clock.now
        self.exchange = exchange
        self.hub = WsHub(exchange, self.config, self.faults, now)
        self.rest = RestApi(exchange, self.config, self.faults, now)
        self.hub.start()
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("GET", gate.WS_PATH, self.hub.handle)
        app.router.add_route("GET", gate.WS_PATH.rstrip("/"), self.hub.handle)
        if self.config.admin_api:
            app.router.add_route("GET", "/_sim/faults", self._get_faults)
            app.router.add_route("POST", "/_sim/faults", self._set_faults)
            app.router.add_route("POST", "/_sim/faults/reset", self._reset_faults)
            app.router.add_route("POST", "/_sim/ws/drop", self._drop_ws)
            app.router.add_route("GET", "/_sim/stats", self._get_stats)
            app.router.add_route("GET", "/_sim/requests", self._get_requests)
        app.router.add_route("*", gate.REST_PATH_PREFIX + "/{tail:.*}", self.rest.dispatch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        if server is not None and self.port == 0:
            sockets = getattr(server, "sockets", None) or []
            if sockets:
                self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.hub is not None:
            await self.hub.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.exchange is not None:
            await self.exchange.stop()

    async def __aenter__(self) -> ExchangeEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ----------------------------------------------------------------- addresses

    @property
    def url(self) -> str:
        """Base URL: what MMBOT_GATE_URL / bot.venue_url take."""
        return f"http://{self.host}:{self.port}"

    @property
    def rest_url(self) -> str:
        return self.url + gate.REST_PATH_PREFIX

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}{gate.WS_PATH}"

    # ----------------------------------------------------------------- stats

    def stats(self) -> dict[str, Any]:
        assert self.rest is not None and self.hub is not None and self.exchange is not None
        lat = list(self.rest.latency_us)
        out: dict[str, Any] = dict(self.rest.stats)
        out.update(self.hub.stats)
        out.update(self.exchange.stats)
        out["bans"] = self.rest.bans
        out["open_orders"] = len(self.exchange.orders)
        out["self_trades"] = sum(m.engine.self_trade_count for m in self.exchange.markets.values())
        if lat:
            lat.sort()
            out["handler_latency_us_p50"] = round(statistics.median(lat), 1)
            out["handler_latency_us_p99"] = round(lat[int(len(lat) * 0.99) - 1], 1)
        return out

    # ----------------------------------------------------------------- admin API

    @staticmethod
    def _guard(request: web.Request) -> None:
        if not _loopback(request.remote):
            raise web.HTTPForbidden(text="the admin API answers on loopback only")

    async def _get_faults(self, request: web.Request) -> web.Response:
        self._guard(request)
        return web.json_response(self.faults.to_dict())

    async def _set_faults(self, request: web.Request) -> web.Response:
        self._guard(request)
        try:
            data = await request.json()
            if not isinstance(data, dict):
                raise ValueError("body must be a JSON object of fault fields")
            self.faults.update(data)
        except (ValueError, json.JSONDecodeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(self.faults.to_dict())

    async def _reset_faults(self, request: web.Request) -> web.Response:
        self._guard(request)
        self.faults.update(Faults().to_dict())
        return web.json_response(self.faults.to_dict())

    async def _drop_ws(self, request: web.Request) -> web.Response:
        self._guard(request)
        assert self.hub is not None
        return web.json_response({"dropped": await self.hub.drop_all()})

    async def _get_stats(self, request: web.Request) -> web.Response:
        self._guard(request)
        return web.json_response(self.stats())

    async def _get_requests(self, request: web.Request) -> web.Response:
        self._guard(request)
        assert self.rest is not None
        since = int(request.query.get("since", "0") or 0)
        return web.json_response([e for e in self.rest.log if e["seq"] > since])


async def serve_forever(
    config: EmulatorConfig,
    host: str,
    port: int,
    *,
    ready: asyncio.Event | None = None,
    announce: Any = None,
) -> None:
    """Run until SIGINT/SIGTERM (the CLI's main loop)."""
    emu = ExchangeEmulator(config, host=host, port=port)
    await emu.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if announce is not None:
        announce(emu)
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        await emu.stop()
