"""Shared helpers for the Gate/ccxt/emulator tests (no tests here): an emulator on 127.0.0.1,
a ccxt.pro gate client pointed at it, and a `CcxtVenue` on top."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from agent.exchange_sim import AccountSpec, EmulatorConfig, ExchangeEmulator
from agent.venues.ccxt_venue import CcxtVenue, Credentials, override_urls
from agent.venues.sim.scenarios import MarketSpec, Scenario, load_scenario

KEY = "test-key-1"
SECRET = "test-secret-which-must-never-be-logged-1f3a"
BALANCES = {"USDT": Decimal(5000), "USHARK": Decimal(2_500_000)}


def emulator_config(**kw: Any) -> EmulatorConfig:
    scenario: Scenario = kw.pop("scenario", None) or load_scenario("calm")
    accounts = kw.pop("accounts", None) or [AccountSpec(KEY, SECRET, dict(BALANCES))]
    return EmulatorConfig(scenario=scenario, accounts=accounts, **kw)


def quiet_config(**kw: Any) -> EmulatorConfig:
    """No synthetic flow: a book only our test orders make (deterministic protocol tests)."""
    extra = kw.pop("extra_markets", [])
    return emulator_config(synthetic_flow=False, extra_markets=extra, **kw)


LTC = MarketSpec(
    symbol="LTC/USDT",
    initial_price=Decimal(50),
    tick_size=Decimal("0.01"),
    lot_size=Decimal("0.0001"),
    min_notional=Decimal(1),
)
BTC = MarketSpec(
    symbol="BTC/USDT",
    initial_price=Decimal(50000),
    tick_size=Decimal("0.1"),
    lot_size=Decimal("0.000001"),
    min_notional=Decimal(1),
)


def emulator_fixture(make_config: Callable[[], EmulatorConfig]) -> Any:
    """A pytest fixture running an emulator for one test: `emu = emulator_fixture(...)`."""

    @pytest.fixture
    async def _fixture() -> AsyncIterator[ExchangeEmulator]:
        async with ExchangeEmulator(make_config()) as e:
            yield e

    return _fixture


def gate_client(emu: ExchangeEmulator, key: str = KEY, secret: str = SECRET) -> Any:
    import ccxt.pro as ccxtpro

    ex = ccxtpro.gate(
        {
            "apiKey": key,
            "secret": secret,
            "enableRateLimit": False,
            "options": {"fetchMarkets": {"types": ["spot"]}, "unifiedAccount": False},
        }
    )
    override_urls(ex, emu.url, ("gateio.ws", "gate.io", "gate.com", "gateapi.io", "gateio.live"))
    return ex


def make_venue(emu: ExchangeEmulator, **kw: Any) -> CcxtVenue:
    return CcxtVenue("gate", credentials=Credentials(KEY, SECRET), url=emu.url, **kw)


async def admin(emu: ExchangeEmulator, path: str, data: dict[str, Any] | None = None) -> Any:
    async with aiohttp.ClientSession() as s:
        if data is None and not path.startswith("POST "):
            async with s.get(emu.url + path) as r:
                return await r.json()
        async with s.post(emu.url + path.removeprefix("POST "), json=data or {}) as r:
            return await r.json()


async def wait_for(pred: Any, timeout: float = 10.0, every: float = 0.05) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(every)
