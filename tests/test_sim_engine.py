"""The simulator's matching engine: priority, rules, locks, fees, self-trades, invariants."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.model import Liquidity, MarketRules, Side, TimeInForce, VenueOrderStatus
from agent.venues.base import VenueErrorCode
from agent.venues.sim.engine import (
    BalancesChanged,
    BookChanged,
    EngineEvent,
    MatchingEngine,
    OrderChanged,
    TradeExecuted,
)

D = Decimal
GTC, IOC, POST = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.POST_ONLY
BUY, SELL = Side.BUY, Side.SELL

RULES = MarketRules(
    symbol="ABC/USDT",
    base="ABC",
    quote="USDT",
    tick_size=D("0.01"),
    lot_size=D("0.1"),
    min_notional=D(5),
    min_amount=D("0.5"),
    maker_fee=D("0.001"),
    taker_fee=D("0.002"),
)


def engine_with(*accounts: str, quote: str = "10000", base: str = "1000") -> MatchingEngine:
    e = MatchingEngine(RULES)
    for a in accounts:
        e.add_account(a, {"USDT": D(quote), "ABC": D(base)})
    return e


def free(e: MatchingEngine, account: str, asset: str) -> Decimal:
    return e.balances(account)[asset].free


def locked(e: MatchingEngine, account: str, asset: str) -> Decimal:
    return e.balances(account)[asset].locked


def test_price_time_priority_and_partial_fill() -> None:
    e = engine_with("a", "b", "c", "t")
    e.submit("a", "a1", SELL, D("10.00"), D(1), GTC, 1.0)
    e.submit("b", "b1", SELL, D("10.00"), D(1), GTC, 2.0)
    e.submit("c", "c1", SELL, D("9.99"), D(1), GTC, 3.0)

    res = e.submit("t", "t1", BUY, D("10.00"), D("2.5"), GTC, 4.0)

    assert res.ok and res.order is not None
    fills = [(t.maker_account, t.price, t.amount) for t in res.trades]
    assert fills == [("c", D("9.99"), D(1)), ("a", D("10.00"), D(1)), ("b", D("10.00"), D("0.5"))]
    assert res.order.status is VenueOrderStatus.FILLED
    b1 = e.get_order("b", client_order_id="b1")
    assert b1 is not None and b1.status is VenueOrderStatus.OPEN and b1.filled == D("0.5")
    assert e.best_ask == D("10.00")
    assert e.depth(5)[1][0].amount == D("0.5")


def test_taker_remainder_rests_for_gtc_and_expires_for_ioc() -> None:
    e = engine_with("m", "t")
    e.submit("m", "m1", SELL, D(10), D(1), GTC, 1.0)
    gtc = e.submit("t", "g", BUY, D(10), D(3), GTC, 2.0)
    assert gtc.order is not None
    assert gtc.order.status is VenueOrderStatus.OPEN and gtc.order.filled == D(1)
    assert e.best_bid == D(10) and e.best_ask is None
    assert locked(e, "t", "USDT") == D(20)  # 2 left at 10

    e.submit("m", "m2", SELL, D(11), D(1), GTC, 3.0)
    ioc = e.submit("t", "i", BUY, D(11), D(2), IOC, 4.0)
    assert ioc.order is not None
    assert ioc.order.status is VenueOrderStatus.CANCELED and ioc.order.filled == D(1)
    assert locked(e, "t", "USDT") == D(20)  # the IOC's unfilled part was refunded at once
    assert [o.client_order_id for o in e.open_orders("t")] == ["g"]


def test_post_only_rejected_when_it_would_take() -> None:
    e = engine_with("m", "p")
    e.submit("m", "m1", SELL, D(10), D(1), GTC, 1.0)
    e.submit("m", "m2", BUY, D(9), D(1), GTC, 1.0)
    before = e.balances("p")
    version = e.book_version

    for side, price in ((BUY, D(10)), (BUY, D("10.5")), (SELL, D(9)), (SELL, D("8.5"))):
        res = e.submit("p", f"x{price}", side, price, D(1), POST, 2.0)
        assert res.error is VenueErrorCode.POST_ONLY_WOULD_TAKE and res.order is None

    assert e.balances("p") == before and e.book_version == version and not e.trades()
    assert e.submit("p", "ok", BUY, D("9.99"), D(1), POST, 3.0).ok


@pytest.mark.parametrize(
    ("price", "amount", "fragment"),
    [
        (D("10.005"), D(1), "tick size"),
        (D(10), D("1.05"), "lot size"),
        (D(10), D("0.4"), "below the minimum 0.5"),
        (D("9.00"), D("0.5"), "notional"),
        (D(0), D(1), "price 0 must be > 0"),
        (D(10), D(-1), "must be > 0"),
        (D("NaN"), D(1), "finite"),
    ],
)
def test_orders_off_the_rules_are_invalid(price: Decimal, amount: Decimal, fragment: str) -> None:
    e = engine_with("a")
    before = e.balances("a")
    res = e.submit("a", "x", BUY, price, amount, GTC, 1.0)
    assert res.error is VenueErrorCode.INVALID_ORDER
    assert fragment in res.message
    assert e.balances("a") == before and e.book_version == 0
    assert e.get_order("a", client_order_id="x") is None


def test_insufficient_funds_and_duplicate_client_ids() -> None:
    e = engine_with("a", quote="100", base="5")
    assert e.submit("a", "b1", BUY, D(10), D(11), GTC, 1.0).error is (
        VenueErrorCode.INSUFFICIENT_FUNDS
    )
    assert e.submit("a", "s1", SELL, D(20), D("5.1"), GTC, 1.0).error is (
        VenueErrorCode.INSUFFICIENT_FUNDS
    )
    assert e.submit("a", "b1", BUY, D(10), D(6), GTC, 1.0).ok
    # 40 USDT left: a second buy of 6 would need 60
    assert e.submit("a", "b2", BUY, D(10), D(6), GTC, 1.0).error is (
        VenueErrorCode.INSUFFICIENT_FUNDS
    )
    dup = e.submit("a", "b1", BUY, D(5), D(1), GTC, 1.0)
    assert dup.error is VenueErrorCode.INVALID_ORDER and "in use" in dup.message
    assert e.cancel("a", client_order_id="b1", now=2.0).ok
    assert e.submit("a", "b1", BUY, D(5), D(1), GTC, 3.0).ok  # free again once closed


def test_locks_fees_and_conservation() -> None:
    e = engine_with("maker", "taker", quote="100", base="10")
    totals = e.asset_totals()

    e.submit("maker", "m", BUY, D(10), D(5), GTC, 1.0)
    assert (free(e, "maker", "USDT"), locked(e, "maker", "USDT")) == (D(50), D(50))

    res = e.submit("taker", "t", SELL, D("9.90"), D(5), IOC, 2.0)
    (trade,) = res.trades
    assert trade.price == D(10) and trade.taker_side is SELL
    # maker (buyer) pays the maker fee in base; taker (seller) the taker fee in quote
    assert (trade.maker_fee, trade.maker_fee_asset) == (D("0.005"), "ABC")
    assert (trade.taker_fee, trade.taker_fee_asset) == (D("0.1"), "USDT")
    assert e.balances("maker")["USDT"].total == D(50)
    assert locked(e, "maker", "USDT") == 0
    assert free(e, "maker", "ABC") == D("14.995")
    assert free(e, "taker", "USDT") == D("149.9")
    assert free(e, "taker", "ABC") == D(5) and locked(e, "taker", "ABC") == 0
    assert e.fees_collected == {"ABC": D("0.005"), "USDT": D("0.1")}
    assert e.asset_totals() == totals


def test_taker_buy_below_its_limit_gets_the_difference_back() -> None:
    e = engine_with("m", "t", quote="100")
    e.submit("m", "m1", SELL, D(10), D(2), GTC, 1.0)
    e.submit("t", "t1", BUY, D("10.50"), D(2), IOC, 2.0)
    assert free(e, "t", "USDT") == D(80) and locked(e, "t", "USDT") == 0
    assert free(e, "t", "ABC") == D(1000) + D(2) - D("0.004")


def test_cancel_refunds_and_reports_closed_orders() -> None:
    e = engine_with("a", "t")
    e.submit("a", "b", BUY, D(10), D(3), GTC, 1.0)
    e.submit("a", "s", SELL, D(12), D(2), GTC, 1.0)
    e.submit("t", "x", SELL, D(10), D(1), IOC, 1.5)  # fills 1 of the buy

    out = e.cancel("a", client_order_id="b", now=2.0)
    assert out.ok and out.order is not None
    assert out.order.status is VenueOrderStatus.CANCELED and out.order.filled == D(1)
    assert locked(e, "a", "USDT") == 0 and free(e, "a", "USDT") == D(10000) - D(10)

    again = e.cancel("a", client_order_id="b", now=3.0)
    assert not again.ok and again.error is VenueErrorCode.ORDER_NOT_FOUND
    assert again.order is not None and again.order.status is VenueOrderStatus.CANCELED
    assert e.cancel("a", venue_order_id="999", now=3.0).error is VenueErrorCode.ORDER_NOT_FOUND
    assert e.cancel("t", client_order_id="s", now=3.0).error is VenueErrorCode.ORDER_NOT_FOUND

    (gone,) = e.cancel_all("a", now=4.0)
    assert gone.client_order_id == "s" and locked(e, "a", "ABC") == 0
    assert e.open_orders("a") == [] and e.best_ask is None and e.best_bid is None
    assert e.cancel_all("a", now=5.0) == []


def test_self_trades_are_executed_counted_and_reported_twice() -> None:
    e = engine_with("bot", "other")
    e.submit("bot", "ask", SELL, D(10), D(1), GTC, 1.0)
    res = e.submit("bot", "bid", BUY, D(10), D(1), GTC, 2.0)
    (trade,) = res.trades
    assert trade.self_trade and e.self_trade_count == 1 and e.self_trade_counts["bot"] == 1
    fills = trade.fills_for("bot", RULES.symbol)
    assert {f.liquidity for f in fills} == {Liquidity.MAKER, Liquidity.TAKER}
    assert len({f.trade_id for f in fills}) == 2
    e.submit("other", "o", SELL, D(10), D(1), GTC, 3.0)
    e.submit("bot", "bid2", BUY, D(10), D(1), GTC, 4.0)
    assert e.self_trade_count == 1
    assert len(e.trades("bot")) == 2 and len(e.trades("other")) == 1
    assert [t.trade_id for t in e.trades(since=4.0)] == ["2"]


def test_ids_history_and_lookup() -> None:
    e = MatchingEngine(RULES, history_limit=2)
    e.add_account("a", {"USDT": D(1000)})
    ids = []
    for i in range(4):
        res = e.submit("a", f"c{i}", BUY, D(10), D(1), GTC, float(i))
        assert res.order is not None
        ids.append(int(res.order.venue_order_id))
        e.cancel("a", client_order_id=f"c{i}", now=float(i))
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert e.get_order("a", client_order_id="c0") is None  # evicted from bounded history
    last = e.get_order("a", venue_order_id=str(ids[3]))
    assert last is not None and last.status is VenueOrderStatus.CANCELED
    e.add_account("b", {"USDT": D(1000)})
    assert e.get_order("b", venue_order_id=str(ids[3])) is None  # not b's order
    with pytest.raises(ValueError):
        e.add_account("a", {})


def test_depth_aggregates_levels_best_first() -> None:
    e = engine_with("a", "b")
    for acct, side, price, amt in [
        ("a", BUY, "9.98", "1"),
        ("b", BUY, "9.99", "2"),
        ("a", BUY, "9.99", "3"),
        ("a", SELL, "10.02", "1"),
        ("b", SELL, "10.01", "1.5"),
    ]:
        e.submit(acct, f"{acct}{side}{price}", side, D(price), D(amt), GTC, 1.0)
    bids, asks = e.depth(5)
    assert [(lv.price, lv.amount) for lv in bids] == [(D("9.99"), D(5)), (D("9.98"), D(1))]
    assert [(lv.price, lv.amount) for lv in asks] == [(D("10.01"), D("1.5")), (D("10.02"), D(1))]
    assert e.depth(1) == (bids[:1], asks[:1])
    assert e.mid == D("10.00")


def test_listeners_see_complete_operations_in_order() -> None:
    e = engine_with("m", "t")
    events: list[EngineEvent] = []
    e.listeners.append(events.append)
    e.submit("m", "m1", SELL, D(10), D(1), GTC, 1.0)
    assert [type(ev) for ev in events] == [OrderChanged, BalancesChanged, BookChanged]
    events.clear()

    seen_balances = []
    e.listeners.append(
        lambda ev: (
            seen_balances.append(e.balances("t")["ABC"].free)
            if isinstance(ev, TradeExecuted)
            else None
        )
    )
    e.submit("t", "t1", BUY, D(10), D(1), IOC, 2.0)
    kinds = [type(ev).__name__ for ev in events]
    assert kinds == [
        "TradeExecuted",
        "OrderChanged",  # the maker, filled
        "OrderChanged",  # the taker, filled
        "BalancesChanged",
        "BalancesChanged",
        "BookChanged",
    ]
    # listeners run after the operation finished: balances already include the trade
    assert seen_balances == [D(1000) + D(1) - D("0.002")]
    book_events = [ev for ev in events if isinstance(ev, BookChanged)]
    assert book_events[-1].version == e.book_version == 2


# --------------------------------------------------------------------------- property test

ACCOUNTS = ("a", "b", "c")
order_op = st.tuples(
    st.just("submit"),
    st.sampled_from(ACCOUNTS),
    st.sampled_from([BUY, SELL]),
    st.integers(min_value=950, max_value=1050),  # price in ticks
    st.integers(min_value=1, max_value=400),  # amount in lots
    st.sampled_from([GTC, IOC, POST]),
)
cancel_op = st.tuples(st.just("cancel"), st.sampled_from(ACCOUNTS), st.integers(0, 50))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(st.one_of(order_op, order_op, cancel_op), min_size=1, max_size=60))
def test_random_order_streams_keep_the_engine_consistent(ops: list[tuple[Any, ...]]) -> None:
    e = MatchingEngine(RULES)
    for a in ACCOUNTS:
        e.add_account(a, {"USDT": D(300), "ABC": D(30)})
    totals = e.asset_totals()
    now = 0.0
    for op in ops:
        now += 1
        if op[0] == "submit":
            _, acct, side, ticks, lots, tif = op
            e.submit(
                acct, f"o{now}", side, RULES.tick_size * ticks, RULES.lot_size * lots, tif, now
            )
        else:
            _, acct, pick = op
            open_ = e.open_orders(acct)
            if open_:
                target = open_[pick % len(open_)]
                assert e.cancel(acct, venue_order_id=target.venue_order_id, now=now).ok

        assert e.asset_totals() == totals
        bid, ask = e.best_bid, e.best_ask
        assert bid is None or ask is None or bid < ask
        for a in ACCOUNTS:
            bals = e.balances(a)
            assert all(b.free >= 0 and b.locked >= 0 for b in bals.values())
            open_ = e.open_orders(a)
            lock_quote = sum(
                (o.price * (o.amount - o.filled) for o in open_ if o.side is BUY), D(0)
            )
            lock_base = sum((o.amount - o.filled for o in open_ if o.side is SELL), D(0))
            assert bals["USDT"].locked == lock_quote
            assert bals["ABC"].locked == lock_base
    assert e.self_trade_count == sum(t.maker_account == t.taker_account for t in e.trades())
