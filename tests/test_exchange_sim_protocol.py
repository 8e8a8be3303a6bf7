"""The emulator speaks Gate v4 to any client: raw signed HTTP and WebSocket, no ccxt."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from agent.exchange_sim import ExchangeEmulator, signing
from agent.venues import gate
from tests.test_gate_helpers import KEY, SECRET, emulator_config, emulator_fixture, quiet_config

PAIR = "USHARK_USDT"
emu = emulator_fixture(emulator_config)
quiet_emu = emulator_fixture(quiet_config)


# ----------------------------------------------------------------------------- signatures


def test_signature_vectors_from_gate_md() -> None:
    body = (
        '{"currency_pair":"BTC_USDT","type":"limit","account":"spot","side":"buy",'
        '"amount":"0.001","price":"30000","time_in_force":"poc","text":"t-abc123"}'
    )
    assert signing.body_hash(body).startswith("4cae0ed0fa76")
    assert signing.rest_signature(
        "testsecret", "POST", "/api/v4/spot/orders", "", body, "1700000000"
    ) == (
        "dbf67755fdbd57de98e1bbb377c7e9e44e10c022de5b38191cae287bef0730f6f5f9529170ad291e"
        "9494f1885c766aec95fc28b9fc1f148e2fa8c7d77c56bbc6"
    )
    q = "account=spot&currency_pair=BTC_USDT&status=open"
    assert signing.rest_signature(
        "testsecret", "GET", "/api/v4/spot/open_orders", q, "", "1700000000"
    ).startswith("c21bac61383f16f8")
    patch = signing.rest_signature(
        "testsecret",
        "PATCH",
        "/api/v4/spot/orders/12345",
        "currency_pair=BTC_USDT&account=spot&price=30100",
        '{"currency_pair":"BTC_USDT","account":"spot","price":"30100"}',
        "1700000000",
    )
    assert patch.startswith("cb8cb175") and patch.endswith("b258680d")
    ws = signing.ws_channel_signature("testsecret", "spot.orders", "subscribe", 1700000000)
    assert ws.startswith("8a1c9c6c") and ws.endswith("90969ef5")
    login_ccxt = signing.ws_api_signature("testsecret", "spot.login", "{}", 1700000000)
    login_doc = signing.ws_api_signature("testsecret", "spot.login", "", 1700000000)
    assert login_ccxt.startswith("0ec277c4") and login_ccxt.endswith("ecc2b896")
    assert login_doc.startswith("31d2b0ca") and login_doc.endswith("bfc949b5")
    # Gate's own documentation examples (secret "secret", ts 1541993715)
    doc_get = signing.rest_signature(
        "secret",
        "GET",
        "/api/v4/futures/orders",
        "contract=BTC_USD&status=finished&limit=50",
        "",
        "1541993715",
    )
    assert doc_get.startswith("55f84ea1") and doc_get.endswith("418b8a")


# ----------------------------------------------------------------------------- a raw client


async def call(
    emu: ExchangeEmulator,
    method: str,
    path: str,
    query: str = "",
    body: Any = None,
    *,
    key: str = KEY,
    secret: str = SECRET,
    ts: str | None = None,
    sign: bool = True,
) -> tuple[int, Any, dict[str, str]]:
    text = "" if body is None else json.dumps(body, separators=(",", ":"))
    full = gate.REST_PATH_PREFIX + path
    headers = {"Content-Type": "application/json"}
    if sign:
        ts = ts or str(int(time.time()))
        headers.update(
            KEY=key,
            Timestamp=ts,
            SIGN=signing.rest_signature(secret, method, full, query, text, ts),
        )
    url = emu.url + full + (f"?{query}" if query else "")
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, url, data=text or None, headers=headers) as r,
    ):
        return r.status, await r.json(), dict(r.headers)


def order(side: str, amount: str, price: str, **kw: Any) -> dict[str, Any]:
    return {
        "currency_pair": PAIR,
        "type": "limit",
        "account": "spot",
        "side": side,
        "amount": amount,
        "price": price,
        **kw,
    }


async def test_auth_failures_carry_gate_labels(quiet_emu: ExchangeEmulator) -> None:
    e = quiet_emu
    st, body, _ = await call(e, "GET", "/spot/accounts", key="nope")
    assert (st, body["label"]) == (401, "INVALID_KEY")
    st, body, _ = await call(e, "GET", "/spot/accounts", secret="wrong")
    assert (st, body["label"]) == (401, "INVALID_SIGNATURE")
    st, body, _ = await call(e, "GET", "/spot/accounts", ts=str(int(time.time()) - 61))
    assert (st, body["label"]) == (401, "REQUEST_EXPIRED")
    st, body, _ = await call(e, "GET", "/spot/accounts", sign=False)
    assert (st, body["label"]) == (401, "MISSING_REQUIRED_HEADER")
    # a fractional Timestamp header (as some Gate SDKs send) is signed and accepted as text
    st, body, _ = await call(e, "GET", "/spot/accounts", ts=f"{time.time():.4f}")
    assert st == 200 and {r["currency"] for r in body} == {"USDT", "USHARK"}


async def test_public_endpoints(quiet_emu: ExchangeEmulator) -> None:
    e = quiet_emu
    st, body, headers = await call(e, "GET", "/spot/time", sign=False)
    assert st == 200 and abs(body["server_time"] / 1000 - time.time()) < 5
    assert {"X-In-Time", "X-Out-Time", "X-Gate-Trace-ID"} <= set(headers)
    assert "X-Gate-RateLimit-Limit" in headers
    st, body, _ = await call(e, "GET", "/spot/currencies", sign=False)
    assert {c["currency"] for c in body} == {"USHARK", "USDT"}
    st, body, _ = await call(e, "GET", "/spot/currencies/USHARK", sign=False)
    assert body["currency"] == "USHARK" and body["delisted"] is False
    st, body, _ = await call(e, "GET", "/spot/currencies/NOPE", sign=False)
    assert body["label"] == "INVALID_CURRENCY"
    st, body, _ = await call(e, "GET", "/spot/currency_pairs", sign=False)
    assert body[0]["id"] == PAIR and body[0]["precision"] == 6 and body[0]["amount_precision"] == 0
    assert body[0]["min_quote_amount"] == "3" and body[0]["trade_status"] == "tradable"
    st, body, _ = await call(e, "GET", "/margin/currency_pairs", sign=False)
    assert (st, body) == (200, [])
    st, body, _ = await call(e, "GET", "/spot/tickers", f"currency_pair={PAIR}", sign=False)
    assert body[0]["currency_pair"] == PAIR and "last" in body[0]
    st, body, _ = await call(
        e, "GET", "/spot/order_book", f"currency_pair={PAIR}&limit=5&with_id=true", sign=False
    )
    assert st == 200 and isinstance(body["id"], int) and "current" in body
    st, body, _ = await call(e, "GET", "/spot/nothing", sign=False)
    assert (st, body["label"]) == (404, "INVALID_URL")


async def test_order_errors_and_finish_as(quiet_emu: ExchangeEmulator) -> None:
    e = quiet_emu
    st, sell, _ = await call(e, "POST", "/spot/orders", body=order("sell", "10000", "0.002100"))
    assert st == 201 and sell["status"] == "open" and sell["text"] == "apiv4"
    st, body, _ = await call(e, "POST", "/spot/orders", body=order("buy", "10", "0.0021"))
    assert (st, body["label"]) == (400, "INVALID_PARAM_VALUE")  # 0.021 USDT < 3 USDT minimum
    assert "too small" in body["message"]
    st, body, _ = await call(e, "POST", "/spot/orders", body=order("buy", "1.5", "0.0021"))
    assert body["label"] == "INVALID_PRECISION"
    st, body, _ = await call(e, "POST", "/spot/orders", body=order("buy", "2000", "0.00200001"))
    assert body["label"] == "INVALID_PRECISION"
    st, body, _ = await call(e, "POST", "/spot/orders", body=order("buy", "9000000", "0.0019"))
    assert (st, body["label"]) == (400, "BALANCE_NOT_ENOUGH")
    st, body, _ = await call(
        e, "POST", "/spot/orders", body=order("buy", "2000", "0.0021", time_in_force="poc")
    )
    assert st == 201 and body["status"] == "cancelled" and body["finish_as"] == "poc"
    st, body, _ = await call(
        e, "POST", "/spot/orders", body=order("buy", "2000", "0.0019", text="no-prefix")
    )
    assert body["label"] == "INVALID_PARAM_VALUE"
    st, body, _ = await call(
        e, "POST", "/spot/orders", body=order("buy", "2000", "0.0019", stp_act="cn")
    )
    assert body["label"] == "INVALID_PARAM_VALUE" and "STP" in body["message"]
    st, body, _ = await call(e, "GET", "/spot/orders/999", f"currency_pair={PAIR}")
    assert (st, body["label"]) == (404, "ORDER_NOT_FOUND")
    # a taker buy fills against our own resting sell: fees, filled_total, finish_as filled
    st, buy, _ = await call(e, "POST", "/spot/orders", body=order("buy", "2000", "0.0021"))
    assert buy["status"] == "closed" and buy["finish_as"] == "filled"
    assert Decimal(buy["filled_total"]) == Decimal("4.2") and buy["fee_currency"] == "USHARK"
    assert buy["stp_id"] == 0 and buy["stp_act"] == "-"
    st, trades, _ = await call(e, "GET", "/spot/my_trades", f"currency_pair={PAIR}")
    assert {t["role"] for t in trades} == {"maker", "taker"}
    st, body, _ = await call(e, "DELETE", f"/spot/orders/{buy['id']}", f"currency_pair={PAIR}")
    assert (st, body["label"]) == (400, "ORDER_CLOSED")


async def test_poc_label_mode() -> None:
    async with ExchangeEmulator(quiet_config(poc_reject_with_label=True)) as e:
        await call(e, "POST", "/spot/orders", body=order("sell", "10000", "0.002100"))
        st, body, _ = await call(
            e, "POST", "/spot/orders", body=order("buy", "2000", "0.0021", time_in_force="poc")
        )
        assert (st, body["label"]) == (400, "POC_FILL_IMMEDIATELY")


async def test_batch_amend_cancel_and_countdown(quiet_emu: ExchangeEmulator) -> None:
    e = quiet_emu
    batch = [
        order("buy", "2000", f"0.00{190 + i}", text=f"t-b{i}", textIsRequired=True)
        for i in range(3)
    ]
    batch.append(order("buy", "99999999", "0.0019", text="t-poor"))
    st, res, _ = await call(e, "POST", "/spot/batch_orders", body=batch)
    assert st == 200 and [r["succeeded"] for r in res] == [True, True, True, False]
    assert res[3]["label"] == "BALANCE_NOT_ENOUGH"
    st, body, _ = await call(e, "POST", "/spot/batch_orders", body=[batch[0]] * 11)
    assert body["label"] == "TOO_MANY_ORDERS"
    # by text while open
    st, got, _ = await call(e, "GET", "/spot/orders/t-b1", f"currency_pair={PAIR}")
    assert got["id"] == res[1]["id"]
    # amend: params in the query AND the body, both signed
    q = f"currency_pair={PAIR}&account=spot&price=0.00185"
    st, amended, _ = await call(
        e,
        "PATCH",
        f"/spot/orders/{res[0]['id']}",
        q,
        {"currency_pair": PAIR, "account": "spot", "price": "0.00185"},
    )
    assert st == 200 and amended["price"] == "0.00185" and amended["id"] == res[0]["id"]
    st, canc, _ = await call(
        e,
        "POST",
        "/spot/cancel_batch_orders",
        body=[{"currency_pair": PAIR, "id": res[0]["id"]}, {"currency_pair": PAIR, "id": "42"}],
    )
    assert [c["succeeded"] for c in canc] == [True, False] and canc[1]["label"] == "ORDER_NOT_FOUND"
    st, opened, _ = await call(e, "GET", "/spot/open_orders")
    assert opened[0]["currency_pair"] == PAIR and opened[0]["total"] == 2
    # countdown: < 5 s refused, 0 disarms, then it fires and cancels everything
    st, body, _ = await call(e, "POST", "/spot/countdown_cancel_all", body={"timeout": 3})
    assert body["label"] == "INVALID_PARAM_VALUE"
    st, body, _ = await call(
        e, "POST", "/spot/countdown_cancel_all", body={"timeout": 5, "currency_pair": PAIR}
    )
    assert st == 200 and body["triggerTime"] > time.time() * 1000
    assert e.exchange is not None
    acct = e.exchange.account(KEY)
    assert acct is not None
    handle = acct.countdowns[PAIR]
    handle._run()  # fire now instead of waiting 5 s
    st, opened, _ = await call(e, "GET", "/spot/open_orders")
    assert opened == []
    st, body, _ = await call(e, "DELETE", "/spot/orders", f"currency_pair={PAIR}")
    assert body == []


async def test_rate_limit_429_with_headers(quiet_emu: ExchangeEmulator) -> None:
    e = quiet_emu
    statuses = []
    headers: dict[str, str] = {}
    # Until the limiter answers 429: on a loaded machine 13 calls may not fit in one second,
    # so keep going (each order locks 3 USDT of 5,000).
    for i in range(gate.ORDER_LIMIT_PER_SECOND * 20):
        st, body, headers = await call(
            e, "POST", "/spot/orders", body=order("buy", "2000", "0.0015", text=f"t-r{i}")
        )
        statuses.append(st)
        if st == 429:
            assert body["label"] == "TOO_MANY_REQUESTS"
            break
    assert 429 in statuses
    # a fresh account: the first second's full allowance is accepted before any 429
    assert statuses[: gate.ORDER_LIMIT_PER_SECOND] == [201] * gate.ORDER_LIMIT_PER_SECOND
    assert headers["X-Gate-RateLimit-Limit"] == str(gate.ORDER_LIMIT_PER_SECOND)
    assert headers["X-Gate-RateLimit-Requests-Remain"] == "0"
    assert int(headers["X-Gate-RateLimit-Reset-Timestamp"]) >= int(time.time())


# ----------------------------------------------------------------------------- WebSocket


async def _ws_recv(ws: aiohttp.ClientWebSocketResponse, channel: str, timeout: float = 5) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        msg = await ws.receive(timeout=max(0.01, end - time.monotonic()))
        data = json.loads(msg.data)
        if data.get("channel") == channel or data.get("request_id") is not None:
            return data
    raise AssertionError(f"nothing on {channel}")


async def test_ws_ping_auth_login_and_legacy_book(emu: ExchangeEmulator) -> None:
    e = emu
    async with aiohttp.ClientSession() as s, s.ws_connect(e.ws_url, autoping=False) as ws:
        await ws.ping(b"hi")
        pong = await ws.receive(timeout=5)
        assert pong.type is aiohttp.WSMsgType.PONG
        await ws.send_json({"time": int(time.time()), "channel": "spot.ping"})
        assert (await _ws_recv(ws, "spot.pong"))["channel"] == "spot.pong"
        # private channel with a wrong signature: code 4 (ccxt -> AuthenticationError)
        t = int(time.time())
        await ws.send_json(
            {
                "id": 7,
                "time": t,
                "channel": "spot.orders",
                "event": "subscribe",
                "payload": ["!all"],
                "auth": {"method": "api_key", "KEY": KEY, "SIGN": "00"},
            }
        )
        err = await _ws_recv(ws, "spot.orders")
        assert err["id"] == 7 and err["error"]["code"] == 4 and err["result"]["status"] == "fail"
        assert "INVALID_SIGNATURE" in err["error"]["message"]
        # WS-API login, signed over "" as Gate's docs do
        sig = signing.ws_api_signature(SECRET, "spot.login", "", t)
        await ws.send_json(
            {
                "time": t,
                "channel": "spot.login",
                "event": "api",
                "payload": {
                    "req_id": "authenticated",
                    "timestamp": str(t),
                    "api_key": KEY,
                    "signature": sig,
                    "req_param": {},
                },
            }
        )
        login = await _ws_recv(ws, "spot.login")
        assert login["request_id"] == "authenticated" and login["header"]["status"] == "200"
        # legacy book: deltas with U/u continuing the REST with_id snapshot
        await ws.send_json(
            {
                "id": 9,
                "time": t,
                "channel": "spot.order_book_update",
                "event": "subscribe",
                "payload": [PAIR, "100ms"],
            }
        )
        ack = await _ws_recv(ws, "spot.order_book_update")
        assert ack["result"] == {"status": "success"}
        async with s.get(
            f"{e.rest_url}/spot/order_book?currency_pair={PAIR}&limit=1000&with_id=true"
        ) as r:
            snap = await r.json()
        bids = {p: q for p, q in snap["bids"]}
        last = snap["id"]
        applied = 0
        while applied < 3:
            upd = (await _ws_recv(ws, "spot.order_book_update", timeout=15))["result"]
            if upd["u"] <= last:
                continue
            assert upd["U"] <= last + 1
            for p, q in upd["b"]:
                if q == "0":
                    bids.pop(p, None)
                else:
                    bids[p] = q
            last = upd["u"]
            applied += 1
        assert e.exchange is not None
        engine_bids, _ = e.exchange.depth(PAIR, 1000)
        await asyncio.sleep(0)
        # our rebuilt book matches the venue's at the last applied id (or a newer one)
        assert set(bids) & {p for p, _ in engine_bids}


def test_signing_helpers_agree_with_hashlib() -> None:
    text = "GET\n/api/v4/spot/accounts\n\n" + hashlib.sha512(b"").hexdigest() + "\n1"
    assert signing.rest_signature("s", "GET", "/api/v4/spot/accounts", "", "", "1") == (
        hmac.new(b"s", text.encode(), hashlib.sha512).hexdigest()
    )


@pytest.mark.parametrize("bad", ["x", "-1:2", "USDT=abc", "USDT"])
def test_balance_parsing_rejects_bad_input(bad: str) -> None:
    from agent.exchange_sim import parse_balances

    with pytest.raises(ValueError):
        parse_balances(bad)
