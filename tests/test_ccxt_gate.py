"""`CcxtVenue` (real ccxt + ccxt.pro) against the Gate emulator over 127.0.0.1: every call the
agent makes, error mapping, client ids both ways, streams, dead-man switch, URL override."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from agent.exchange_sim import ExchangeEmulator
from agent.model import OrderRequest, Side, TimeInForce, VenueOrderStatus
from agent.venues import gate
from agent.venues.base import (
    BalanceUpdate,
    BookUpdate,
    FillUpdate,
    OrderUpdate,
    StreamStatus,
    VenueError,
    VenueErrorCode,
    VenueEvent,
    VenueTimeout,
)
from agent.venues.ccxt_venue import (
    CcxtVenue,
    Credentials,
    make_ccxt_venue,
    override_urls,
    resolve_url,
)
from tests.test_gate_helpers import (
    KEY,
    SECRET,
    admin,
    emulator_config,
    emulator_fixture,
    gate_client,
    make_venue,
    quiet_config,
    wait_for,
)

SYM = "USHARK/USDT"
emu = emulator_fixture(emulator_config)
quiet_emu = emulator_fixture(quiet_config)


def req(
    cid: str, side: Side, price: str, amount: str, tif: TimeInForce = TimeInForce.POST_ONLY
) -> OrderRequest:
    return OrderRequest(cid, SYM, side, Decimal(price), Decimal(amount), tif)


async def test_every_agent_call(quiet_emu: ExchangeEmulator) -> None:
    v = make_venue(quiet_emu)
    await v.start()
    try:
        caps = v.capabilities
        assert caps.batch_create and caps.batch_cancel and caps.amend and caps.post_only
        assert caps.watch_orders and caps.watch_my_trades and caps.watch_balance
        assert caps.dead_man_switch and (caps.max_batch_create, caps.max_batch_cancel) == (10, 20)
        rules = await v.market_rules(SYM)
        assert (rules.tick_size, rules.lot_size, rules.min_notional) == (
            Decimal("0.000001"),
            Decimal(1),
            Decimal(3),
        )
        assert rules.maker_fee == Decimal("0.001") and rules.taker_fee == Decimal("0.002")
        bal = await v.fetch_balances()
        assert bal["USDT"].free == Decimal(5000) and bal["USHARK"].free == Decimal(2_500_000)
        # batch create: engine ids go out as t-<id> and come back unwrapped
        cids = ["mmd30ec7-14u25dmgw1", "mmd30ec7-14u25dmgw2", "mmd30ec7-14u25dmgw3"]
        res = await v.create_orders(
            [
                req(cids[0], Side.SELL, "0.002100", "10000"),
                req(cids[1], Side.BUY, "0.001900", "10000"),
                req(cids[2], Side.BUY, "0.001900", "900000000"),  # not enough USDT
            ]
        )
        assert res[0].order is not None and res[0].order.client_order_id == cids[0]
        assert res[0].order.status is VenueOrderStatus.OPEN
        assert res[0].order.price == Decimal("0.0021") and res[0].order.amount == Decimal(10000)
        assert res[1].order is not None
        assert res[2].error == VenueErrorCode.INSUFFICIENT_FUNDS
        # post-only that would take (finish_as poc): mapped, nothing rests
        (poc,) = await v.create_orders([req("mmd30ec7-poc", Side.BUY, "0.002100", "2000")])
        assert poc.error == VenueErrorCode.POST_ONLY_WOULD_TAKE
        # single create of an unsendable size: INVALID_ORDER
        (bad,) = await v.create_orders([req("mmd30ec7-bad", Side.BUY, "0.001", "10")])
        assert bad.error == VenueErrorCode.INVALID_ORDER
        book = await v.fetch_order_book(SYM, 10)
        assert book.best_ask == Decimal("0.0021") and book.best_bid == Decimal("0.0019")
        assert book.seq > 0
        opened = await v.fetch_open_orders(SYM)
        assert {o.client_order_id for o in opened} == set(cids[:2])
        got = await v.fetch_order(SYM, cids[1])
        assert got is not None and got.status is VenueOrderStatus.OPEN
        assert await v.fetch_order(SYM, "mmd30ec7-never") is None
        # a taker order of ours fills against our own resting sell (emulator allows it; the
        # engine's self-trade guard is upstream): fills come back with our client id
        (ioc,) = await v.create_orders(
            [req("mmd30ec7-ioc", Side.BUY, "0.002100", "2000", TimeInForce.IOC)]
        )
        assert ioc.order is not None and ioc.order.status is VenueOrderStatus.FILLED
        fills = await v.fetch_fills(SYM, 0)
        assert {(f.client_order_id, f.liquidity.value) for f in fills} == {
            ("mmd30ec7-ioc", "taker"),
            (cids[0], "maker"),
        }
        assert all(f.price == Decimal("0.0021") and f.amount == Decimal(2000) for f in fills)
        closed = await v.fetch_order(SYM, "mmd30ec7-ioc")  # closed: found by venue id
        assert closed is not None and closed.status is VenueOrderStatus.FILLED
        # cancel: batch of two, one already filled/unknown
        out = await v.cancel_orders(SYM, [(cids[1], ""), ("mmd30ec7-ioc", "")])
        assert [(r.client_order_id, r.ok) for r in out] == [
            (cids[1], True),
            ("mmd30ec7-ioc", False),
        ]
        assert out[1].error == VenueErrorCode.ORDER_NOT_FOUND
        # single cancel with the full order back; then cancel-all
        (one,) = await v.cancel_orders(SYM, [(cids[0], "")])
        assert one.ok and one.order is not None and one.order.status is VenueOrderStatus.CANCELED
        await v.create_orders([req("mmd30ec7-last", Side.BUY, "0.001800", "5000")])
        everything = await v.cancel_all(SYM)
        assert [r.client_order_id for r in everything] == ["mmd30ec7-last"]
        assert await v.fetch_open_orders(SYM) == []
        # dead-man switch: arm, then disarm
        await v.arm_dead_man(SYM, gate.DEAD_MAN_TIMEOUT_SECONDS)
        assert quiet_emu.exchange is not None
        acct = quiet_emu.exchange.account(KEY)
        assert acct is not None and "USHARK_USDT" in acct.countdowns
        await v.arm_dead_man(SYM, 0)
        assert acct.countdowns == {}
        with pytest.raises(VenueError):
            await v.arm_dead_man(SYM, 2)
    finally:
        await v.close()


async def test_open_orders_beyond_gates_first_page(quiet_emu: ExchangeEmulator) -> None:
    """Gate's open_orders lists at most 100 orders of a pair: a ladder of 2x100 (the config's
    maximum) must still be seen whole, or reconciliation leaves orders nobody cancels."""
    v = make_venue(quiet_emu)
    await v.start()
    try:
        cids = [f"mmpage-{n:03d}" for n in range(130)]
        for start in range(0, len(cids), 10):  # batches of 10 (Gate's batch limit)
            batch = [
                req(cid, Side.BUY, f"0.00{1500 + n:04d}", "2000")
                for n, cid in enumerate(cids[start : start + 10], start)
            ]
            assert all(r.order is not None for r in await v.create_orders(batch))
        opened = await v.fetch_open_orders(SYM)
        assert len(opened) == 130 and {o.client_order_id for o in opened} == set(cids)
        assert sum(o.amount for o in opened) == Decimal(260_000)
        await v.cancel_all(SYM)
        assert await v.fetch_open_orders(SYM) == []
    finally:
        await v.close()


async def test_amend_and_stp_through_raw_ccxt(quiet_emu: ExchangeEmulator) -> None:
    ex = gate_client(quiet_emu)
    try:
        await ex.load_markets()
        o = await ex.create_order(SYM, "limit", "buy", "5000", "0.0019", {"text": "t-amend1"})
        edited = await ex.edit_order(o["id"], SYM, "limit", "buy", "4000", "0.00185")
        assert edited["id"] == o["id"] and edited["info"]["price"] == "0.00185"
        assert edited["info"]["amount"] == "4000"
        by_text = await ex.fetch_order("t-amend1", SYM)
        assert by_text["id"] == o["id"]
        with pytest.raises(Exception, match="INVALID_PARAM_VALUE"):
            await ex.create_order(SYM, "limit", "sell", "5000", "0.0021", {"stp_act": "cn"})
        countdown = await ex.privateSpotPostCountdownCancelAll({"timeout": 30})
        assert countdown["triggerTime"] > 0
    finally:
        await ex.close()


async def test_error_mapping(quiet_emu: ExchangeEmulator) -> None:
    bad = CcxtVenue("gate", credentials=Credentials(KEY, "wrong"), url=quiet_emu.url)
    await bad.start()  # public calls only
    try:
        with pytest.raises(VenueError) as err:
            await bad.fetch_balances()
        assert err.value.code is VenueErrorCode.AUTH
    finally:
        await bad.close()
    v = make_venue(quiet_emu, timeout_ms=1500)
    await v.start()
    try:
        # accepted but the answer never comes: outcome unknown, and reconciliation finds it
        await admin(quiet_emu, "/_sim/faults", {"accept_then_timeout_next": 1, "hang_seconds": 3})
        with pytest.raises(VenueTimeout):
            await v.create_orders([req("mmd30ec7-lost", Side.BUY, "0.001900", "5000")])
        found = await v.fetch_order(SYM, "mmd30ec7-lost")
        assert found is not None and found.status is VenueOrderStatus.OPEN
        # a request that never arrived: timeout again, and the venue never saw it
        await admin(quiet_emu, "/_sim/faults", {"rest_timeout_next": 1, "hang_seconds": 3})
        with pytest.raises(VenueTimeout):
            await v.create_orders([req("mmd30ec7-gone", Side.BUY, "0.001900", "5000")])
        assert await v.fetch_order(SYM, "mmd30ec7-gone") is None
        # 5xx on a query: a known network failure
        await admin(quiet_emu, "/_sim/faults", {"rest_fail_next": 1})
        with pytest.raises(VenueError) as err:
            await v.fetch_open_orders(SYM)
        assert err.value.code is VenueErrorCode.NETWORK
        # injected per-order rejection: a definite refusal ...
        await admin(quiet_emu, "/_sim/faults", {"reject_next_orders": 1})
        (r,) = await v.create_orders([req("mmd30ec7-rej", Side.BUY, "0.001900", "5000")])
        assert r.error == VenueErrorCode.INVALID_ORDER
        # ... but a server error on a create is "unknown" (ccxt: ExchangeNotAvailable)
        await admin(
            quiet_emu, "/_sim/faults", {"reject_next_orders": 1, "reject_label": "SERVER_ERROR"}
        )
        with pytest.raises(VenueTimeout):
            await v.create_orders([req("mmd30ec7-5xx", Side.BUY, "0.001900", "5000")])
        assert await v.fetch_order(SYM, "mmd30ec7-5xx") is None
        # order not found on cancel
        (c,) = await v.cancel_orders(SYM, [("mmd30ec7-x", "123")])
        assert not c.ok and c.error == VenueErrorCode.ORDER_NOT_FOUND
    finally:
        await v.close()


async def test_429_backs_off_and_is_reported(quiet_emu: ExchangeEmulator) -> None:
    v = make_venue(quiet_emu, rate_limit_retries=0)
    await v.start()
    events: list[VenueEvent] = []

    async def consume() -> None:
        async for ev in v.stream(SYM):
            events.append(ev)

    task = asyncio.create_task(consume())
    try:
        loop = asyncio.get_running_loop()
        await admin(quiet_emu, "/_sim/faults", {"storm_429_until": _epoch() + 0.3})
        with pytest.raises(VenueError) as err:
            await v.fetch_open_orders(SYM)
        assert err.value.code is VenueErrorCode.RATE_LIMITED
        assert v.budget.counters["rate_limited"] == 1 and v.budget.backing_off
        t0 = loop.time()
        await v.fetch_open_orders(SYM)  # waits out the back-off before it leaves
        assert loop.time() - t0 >= 0.4
        await wait_for(lambda: any(isinstance(e, StreamStatus) and e.up for e in events), 5)
        statuses = [(e.stream, e.up) for e in events if isinstance(e, StreamStatus)]
        assert ("rate_limit", False) in statuses and ("rate_limit", True) in statuses
    finally:
        task.cancel()
        await v.close()


async def test_streams_deliver_own_orders_fills_and_balances(emu: ExchangeEmulator) -> None:
    v = make_venue(emu)
    await v.start()
    events: list[VenueEvent] = []

    async def consume() -> None:
        async for ev in v.stream(SYM):
            events.append(ev)

    task = asyncio.create_task(consume())
    try:
        await wait_for(lambda: any(isinstance(e, BookUpdate) for e in events), 10)
        book = next(e.book for e in events if isinstance(e, BookUpdate))
        assert book.best_bid is not None and book.best_ask is not None
        assert book.best_bid < book.best_ask
        assert book.best_ask is not None
        # an IOC buy at the ask takes liquidity: fill + order updates + balances arrive
        (r,) = await v.create_orders(
            [req("mmd30ec7-take", Side.BUY, str(book.best_ask), "2000", TimeInForce.IOC)]
        )
        assert r.order is not None
        await wait_for(lambda: any(isinstance(e, FillUpdate) for e in events), 10)
        await wait_for(lambda: any(isinstance(e, BalanceUpdate) for e in events), 10)
        fill = next(e.fill for e in events if isinstance(e, FillUpdate))
        assert fill.client_order_id == "mmd30ec7-take" and fill.liquidity.value == "taker"
        assert fill.fee_asset == "USHARK" and fill.fee > 0
        orders = [e.order for e in events if isinstance(e, OrderUpdate)]
        assert orders and orders[-1].client_order_id == "mmd30ec7-take"
    finally:
        task.cancel()
        await v.close()


def test_url_override_leaves_no_real_host() -> None:
    import ccxt.pro as ccxtpro

    ex = ccxtpro.gate()
    override_urls(ex, "http://127.0.0.1:9999", gate.REAL_HOST_SUFFIXES)
    assert ex.urls["api"]["public"]["spot"] == "http://127.0.0.1:9999/api/v4"
    assert ex.urls["api"]["private"]["spot"] == "http://127.0.0.1:9999/api/v4"
    assert ex.urls["api"]["spot"] == "ws://127.0.0.1:9999/ws/v4/"
    text = repr(ex.urls["api"]) + repr(ex.urls.get("test"))
    assert not any(h in text for h in gate.REAL_HOST_SUFFIXES)
    with pytest.raises(ValueError):
        override_urls(ccxtpro.gate(), "ftp://nowhere")


def test_credentials_and_url_from_env_never_from_config(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from agent.config import load_config

    monkeypatch.setenv("MMBOT_GATE_API_KEY", KEY)
    monkeypatch.setenv("MMBOT_GATE_API_SECRET", SECRET)
    monkeypatch.setenv("MMBOT_GATE_URL", "http://127.0.0.1:1234")
    creds = Credentials.from_env("gate")
    assert creds is not None and creds.api_key == KEY
    assert SECRET not in repr(creds) and SECRET not in str(creds)
    cfg = load_config("examples/ushark-gate.yaml")
    assert resolve_url("gate", cfg.bot.venue_url) == "http://127.0.0.1:1234"
    venue = make_ccxt_venue(cfg, "gate")
    assert venue.url == "http://127.0.0.1:1234" and venue.credentials == creds
    monkeypatch.delenv("MMBOT_GATE_URL")
    assert resolve_url("gate", cfg.bot.venue_url) == cfg.bot.venue_url
    assert Credentials.from_env("gate", env={}) is None


async def test_missing_credentials_is_a_clear_auth_error(quiet_emu: ExchangeEmulator) -> None:
    v = CcxtVenue("gate", url=quiet_emu.url)
    with pytest.raises(VenueError, match="MMBOT_GATE_API_KEY") as err:
        await v.start()
    assert err.value.code is VenueErrorCode.AUTH
    await v.close()


def _epoch() -> float:
    import time

    return time.time()
