"""Risk engine: pre-trade veto/clip, continuous rules, status, auto-resume, day rollover."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.config import BreachAction, OnBreach, RiskConfig
from agent.model import MarketRules, OrderRequest, Side, TimeInForce
from agent.risk import (
    Decision,
    PreTradeContext,
    RiskEngine,
    RiskRule,
    RuleState,
    SlidingCount,
    utc_day,
)

D = Decimal
DAY0 = 1_767_571_200.0  # 2026-01-05 00:00:00 UTC
T0 = DAY0 + 9 * 3600  # 09:00 UTC

RULES = MarketRules(
    symbol="USHARK/USDT",
    base="USHARK",
    quote="USDT",
    tick_size=D("0.0001"),
    lot_size=D(1),
    min_notional=D(5),
    maker_fee=D("0.001"),
    taker_fee=D("0.002"),
)


def engine(**kw: object) -> RiskEngine:
    eng = RiskEngine(RiskConfig.model_validate(kw), RULES)
    eng.reset_day(T0)
    eng.on_book(D("1.0000"), T0)
    return eng


def ctx(**kw: object) -> PreTradeContext:
    base: dict[str, object] = {
        "now": T0 + 1,
        "open_orders": 0,
        "quote_total": D(10_000),
        "quote_locked": D(0),
        "reference": D("1.0000"),
        "best_bid": D("0.9990"),
        "best_ask": D("1.0010"),
    }
    base.update(kw)
    return PreTradeContext(**base)  # type: ignore[arg-type]


def req(
    side: Side = Side.BUY,
    price: str = "0.9980",
    amount: int = 100,
    tif: TimeInForce = TimeInForce.POST_ONLY,
) -> OrderRequest:
    return OrderRequest("c1", "USHARK/USDT", side, D(price), D(amount), tif)


# ---------------------------------------------------------------------- pre-trade
def test_plain_order_passes_untouched() -> None:
    d = engine().pre_trade(req(), ctx())
    assert d == Decision(True, D(100))
    assert not d.clipped
    r = req()
    assert d.apply(r) is r


def test_open_order_cap() -> None:
    eng = engine(max_open_orders=5)
    assert eng.pre_trade(req(), ctx(open_orders=4)).allowed
    d = eng.pre_trade(req(), ctx(open_orders=5))
    assert not d.allowed and d.rule == "open_orders"
    assert d.apply(req()) is None
    assert eng.vetoes_today["open_orders"] == 1


def test_buy_is_clipped_to_keep_free_quote_above_minimum_incl_locked() -> None:
    eng = engine(min_quote_balance=100)
    # total 300, of which 150 locked by own orders: 50 may be spent.
    d = eng.pre_trade(
        req(price="0.0100", amount=10_000),
        ctx(quote_total=D(300), quote_locked=D(150), reference=None, best_ask=None, best_bid=None),
    )
    assert d.allowed and d.clipped and d.rule == "min_quote_balance"
    assert d.amount == D(4995)  # floor(50 / (0.01 * 1.001))
    assert D(300) - D(150) - d.amount * D("0.0100") * D("1.001") >= 100
    clipped = d.apply(req(price="0.0100", amount=10_000))
    assert clipped is not None and clipped.amount == D(4995) and clipped.price == D("0.0100")


def test_buy_vetoed_when_clip_would_break_venue_minimums() -> None:
    eng = engine(min_quote_balance=100)
    d = eng.pre_trade(req(amount=100), ctx(quote_total=D(300), quote_locked=D(197)))
    assert not d.allowed and d.rule == "min_quote_balance"  # 3 quote left < min notional 5
    d = eng.pre_trade(req(amount=100), ctx(quote_total=D(300), quote_locked=D(250)))
    assert not d.allowed and d.rule == "min_quote_balance"


def test_sells_do_not_need_quote() -> None:
    eng = engine(min_quote_balance=100)
    d = eng.pre_trade(req(Side.SELL, price="1.0020"), ctx(quote_total=D(0)))
    assert d.allowed and not d.clipped


@settings(max_examples=300, deadline=None)
@given(
    total=st.integers(0, 5000),
    locked=st.integers(0, 5000),
    price_ticks=st.integers(9_600, 10_400),
    amount=st.integers(1, 5000),
    post_only=st.booleans(),
)
def test_buy_never_takes_free_quote_below_minimum(
    total: int, locked: int, price_ticks: int, amount: int, post_only: bool
) -> None:
    eng = engine(min_quote_balance=100)
    price = D(price_ticks) * RULES.tick_size
    tif = TimeInForce.POST_ONLY if post_only else TimeInForce.IOC
    r = OrderRequest("c", RULES.symbol, Side.BUY, price, D(amount), tif)
    c = ctx(quote_total=D(total), quote_locked=D(locked), best_ask=None)
    d = eng.pre_trade(r, c)
    fee = RULES.maker_fee if post_only else RULES.taker_fee
    if not RULES.fits(price, D(amount)):
        assert not d.allowed
        return
    spendable = D(total) - D(locked) - 100
    if d.allowed:
        assert d.amount <= amount
        assert RULES.fits(price, d.amount)
        assert price * d.amount * (1 + fee) <= spendable
        assert d.clipped == (d.amount != amount)
    else:
        assert d.rule == "min_quote_balance"
        best = RULES.floor_amount(spendable / (price * (1 + fee))) if spendable > 0 else D(0)
        assert best <= 0 or not RULES.fits(price, best)


def test_price_band_against_reference() -> None:
    eng = engine(max_price_deviation_pct=5)
    c = ctx(reference=D(1), best_bid=None, best_ask=None)
    assert eng.pre_trade(req(Side.SELL, price="1.0500"), c).allowed
    assert eng.pre_trade(req(Side.BUY, price="0.9500"), c).allowed
    for side, price in ((Side.SELL, "1.0501"), (Side.BUY, "0.9499")):
        d = eng.pre_trade(req(side, price=price), c)
        assert not d.allowed and d.rule == "price_band", d


def test_price_band_uses_fed_reference_when_context_has_none() -> None:
    eng = engine(max_price_deviation_pct=5)
    eng.on_reference(D(2), T0)
    d = eng.pre_trade(req(price="0.9980"), ctx(reference=None))
    assert not d.allowed and d.rule == "price_band"


def test_post_only_must_not_touch_or_cross() -> None:
    eng = engine()
    c = ctx(best_bid=D("0.9990"), best_ask=D("1.0010"))
    assert eng.pre_trade(req(Side.BUY, price="1.0009"), c).allowed
    assert eng.pre_trade(req(Side.SELL, price="0.9991"), c).allowed
    for side, price in ((Side.BUY, "1.0010"), (Side.BUY, "1.0020"), (Side.SELL, "0.9990")):
        d = eng.pre_trade(req(side, price=price), c)
        assert not d.allowed and d.rule == "post_only"
    # A taker order may cross: that is what it is for.
    assert eng.pre_trade(req(Side.BUY, price="1.0010", tif=TimeInForce.IOC), c).allowed


def test_off_grid_order_is_vetoed() -> None:
    eng = engine()
    d = eng.pre_trade(req(price="0.99805"), ctx())
    assert not d.allowed and d.rule == "market_rules"
    d = eng.pre_trade(req(amount=1), ctx())  # 1 USHARK < 5 USDT min notional
    assert not d.allowed and d.rule == "market_rules"


def test_no_market_data_and_stale_data_veto() -> None:
    eng = RiskEngine(RiskConfig(), RULES)
    d = eng.pre_trade(req(), ctx())
    assert not d.allowed and d.rule == "stale_data"
    eng.on_book(D(1), T0)
    assert eng.pre_trade(req(), ctx(now=T0 + 10)).allowed
    d = eng.pre_trade(req(), ctx(now=T0 + 10.01))
    assert not d.allowed and d.rule == "stale_data"


def test_stale_reference_makes_data_stale() -> None:
    eng = engine()
    eng.on_reference(D(1), T0)
    eng.on_book(D(1), T0 + 8)
    assert eng.pre_trade(req(), ctx(now=T0 + 9)).allowed
    d = eng.pre_trade(req(), ctx(now=T0 + 11))
    assert not d.allowed and d.rule == "stale_data"
    assert [b.rule for b in eng.check(T0 + 11)] == [RiskRule.STALE_DATA]


def test_breach_halts_pre_trade_until_resume() -> None:
    eng = engine(max_rejects_per_minute=1)
    eng.on_reject(T0)
    eng.on_reject(T0)
    assert [b.rule for b in eng.check(T0 + 1)] == [RiskRule.REJECTS]
    d = eng.pre_trade(req(), ctx())
    assert not d.allowed and d.rule == "halted" and "rejects" in d.reason
    eng.resume(T0 + 2)
    assert eng.pre_trade(req(), ctx(now=T0 + 2)).allowed


# ---------------------------------------------------------------------- continuous
def test_sliding_window_counts_last_minute_only() -> None:
    eng = engine(max_api_errors_per_minute=3, stale_data_seconds=3600)
    for i in range(4):
        eng.on_api_error(T0 + i)
    (b,) = eng.check(T0 + 4)
    assert (b.rule, b.value, b.limit, b.action) == (RiskRule.API_ERRORS, 4, 3, BreachAction.PAUSE)
    assert "api_errors" in b.message and b.fields()["rule"] == "api_errors"
    assert eng.check(T0 + 5) == []  # reported once while it holds
    assert eng.check(T0 + 60) == []  # T0 fell out: 3 left, cleared
    eng.on_api_error(T0 + 61)
    assert eng.check(T0 + 61) == []  # T0+1 fell out too: still 3
    eng.on_api_error(T0 + 61)
    (b,) = eng.check(T0 + 61)  # breached again after clearing: a new breach
    assert b.value == 4


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.floats(0, 30, allow_nan=False), min_size=0, max_size=40),
    checks=st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=30),
)
def test_reject_breaches_match_a_brute_force_count(gaps: list[float], checks: list[float]) -> None:
    limit = 3
    eng = engine(max_rejects_per_minute=limit, stale_data_seconds=3600)
    times, t = [], T0
    for g in gaps:
        t += g
        times.append(t)
    now, fed, was = T0, 0, False
    for step in checks:
        now += step * 10
        while fed < len(times) and times[fed] <= now:
            eng.on_reject(times[fed])
            fed += 1
        count = sum(1 for x in times[:fed] if now - 60 < x <= now)
        new = [b for b in eng.check(now) if b.rule is RiskRule.REJECTS]
        breached = count > limit
        assert bool(new) == (breached and not was)
        if new:
            assert new[0].value == count
        was = breached


def test_sliding_count_tolerates_out_of_order() -> None:
    c = SlidingCount(60)
    for t in (10.0, 50.0, 30.0, 70.0):
        c.add(t)
    assert c.count(69.0) == 3  # 10, 50, 30 (70 is not yet)
    assert c.count(70.0) == 3  # 50, 30, 70: 10 is exactly 60 s old
    assert c.count(95.0) == 2  # 50, 70: the late 30 is out although it sits behind 50


def test_stale_data_stops_within_limit_plus_one_second_and_resumes_when_fresh() -> None:
    eng = engine(stale_data_seconds=10, auto_resume_after_seconds=60)
    eng.on_book(D(1), T0)
    tick, now, found = 0.25, T0, None
    while found is None:
        now += tick
        found = next((b for b in eng.check(now) if b.rule is RiskRule.STALE_DATA), None)
    assert found.action is BreachAction.PAUSE
    assert now - T0 <= 10 + 1
    assert not eng.can_auto_resume(now + 600)  # still stale: never resumes
    for t in range(100, 161):
        eng.on_book(D(1), T0 + t)  # fresh again from T0+100, one book a second
        assert eng.check(T0 + t) == []
        assert eng.last_clear_at == T0 + 100
        assert eng.can_auto_resume(T0 + t) == (t >= 160)  # 60 s after the cause cleared
    eng.resume(T0 + 160)
    assert not eng.halted and not eng.can_auto_resume(T0 + 160)


def test_price_deviation_vs_reference() -> None:
    eng = engine(max_price_deviation_pct=5)
    eng.on_reference(D(1), T0)
    eng.on_book(D("1.05"), T0)
    assert eng.check(T0) == []
    eng.on_book(D("1.0501"), T0 + 1)
    eng.on_reference(D(1), T0 + 1)
    (b,) = [b for b in eng.check(T0 + 1) if b.rule is RiskRule.PRICE_DEVIATION]
    assert b.value == D("5.01") and b.limit == 5 and b.action is BreachAction.PAUSE


def test_price_move_per_minute() -> None:
    eng = RiskEngine(RiskConfig(max_price_deviation_pct=D(5)), RULES)
    eng.on_book(D("1.00"), T0)
    eng.on_book(D("1.04"), T0 + 50)
    assert eng.check(T0 + 50) == []
    eng.on_book(D("1.06"), T0 + 100)  # the mid 60 s ago (at T0+40) was still 1.00
    (b,) = eng.check(T0 + 100)
    assert b.rule is RiskRule.PRICE_MOVE and b.value == D(6)
    eng.on_book(D("1.06"), T0 + 111)  # vs 1.04 at T0+50: 1.92 %
    assert eng.check(T0 + 111) == []
    assert eng.last_clear_at == T0 + 111


def test_late_book_does_not_rewrite_mid_history() -> None:
    eng = RiskEngine(RiskConfig(), RULES)
    eng.on_book(D(1), T0 + 10)
    eng.on_book(D(2), T0 + 5)  # arrived late: still data, but not a newer mid
    assert eng.mid == D(1) and eng.book_at == T0 + 10
    assert eng.check(T0 + 11) == []


def test_price_move_uses_configured_action() -> None:
    cfg = RiskConfig(on_breach=OnBreach(price_deviation=BreachAction.KILL))
    eng = RiskEngine(cfg, RULES)
    eng.on_book(D(1), T0)
    eng.on_book(D(2), T0 + 1)
    (b,) = eng.check(T0 + 1)
    assert b.action is BreachAction.KILL
    assert eng.worst_action() is BreachAction.KILL


def test_daily_loss_stops_and_never_auto_resumes() -> None:
    eng = engine(max_daily_loss=50, auto_resume_after_seconds=1)
    eng.on_pnl(D(-50), T0)
    assert eng.check(T0) == []
    eng.on_pnl(D("-50.01"), T0 + 1)
    (b,) = eng.check(T0 + 1)
    assert (b.rule, b.value, b.action) == (RiskRule.DAILY_LOSS, D("50.01"), BreachAction.STOP)
    eng.on_pnl(D(0), T0 + 2)
    assert eng.check(T0 + 2) == []
    assert not eng.can_auto_resume(T0 + 1000)


def test_open_orders_breach_pauses() -> None:
    eng = engine(max_open_orders=3)
    eng.on_open_orders(4, T0)
    (b,) = eng.check(T0)
    assert (b.rule, b.value, b.limit, b.action) == (RiskRule.OPEN_ORDERS, 4, 3, BreachAction.PAUSE)


def test_auto_resume_rules() -> None:
    eng = engine(max_api_errors_per_minute=1, auto_resume_after_seconds=30, stale_data_seconds=600)
    assert not eng.can_auto_resume(T0)  # nothing to resume from
    eng.on_api_error(T0)
    eng.on_api_error(T0)
    eng.check(T0)
    assert eng.halted and not eng.can_auto_resume(T0 + 30)  # cause still there
    eng.on_book(D(1), T0 + 60)
    eng.check(T0 + 60)  # both errors fell out of the window: cleared at T0+60
    assert not eng.can_auto_resume(T0 + 89)
    assert eng.can_auto_resume(T0 + 90)
    off = engine(max_api_errors_per_minute=1, auto_resume_after_seconds=0, stale_data_seconds=600)
    off.on_api_error(T0)
    off.on_api_error(T0)
    off.check(T0)
    off.on_book(D(1), T0 + 1000)
    off.check(T0 + 1000)
    assert not off.can_auto_resume(T0 + 5000)  # 0 = manual resume only


def test_auto_resume_refuses_while_a_cause_holds_unchecked() -> None:
    eng = engine(max_rejects_per_minute=1, max_api_errors_per_minute=1, auto_resume_after_seconds=1)
    eng.on_reject(T0)
    eng.on_reject(T0)
    eng.check(T0)
    eng.on_book(D(1), T0 + 70)
    eng.check(T0 + 70)
    eng.on_api_error(T0 + 71)
    eng.on_api_error(T0 + 71)  # breached, not yet seen by check()
    assert not eng.can_auto_resume(T0 + 72)


def test_manual_resume_with_persisting_cause_reports_again() -> None:
    eng = engine(max_rejects_per_minute=1)
    eng.on_reject(T0)
    eng.on_reject(T0)
    assert len(eng.check(T0)) == 1
    eng.resume(T0 + 1)
    assert [b.rule for b in eng.check(T0 + 2)] == [RiskRule.REJECTS]


def test_status_ok_warn_breached() -> None:
    eng = engine(max_api_errors_per_minute=20, min_quote_balance=100)
    by_rule = {s.rule: s for s in eng.status(T0)}
    assert by_rule[RiskRule.API_ERRORS].state is RuleState.OK
    assert by_rule[RiskRule.MIN_QUOTE_BALANCE].value is None
    for _ in range(16):
        eng.on_api_error(T0)
    eng.on_balance(D(125), D(0), T0)
    by_rule = {s.rule: s for s in eng.status(T0)}
    assert by_rule[RiskRule.API_ERRORS].value == 16
    assert by_rule[RiskRule.API_ERRORS].state is RuleState.WARN  # 16 >= 80 % of 20
    assert by_rule[RiskRule.MIN_QUOTE_BALANCE].state is RuleState.WARN  # 100/125 = 80 %
    for _ in range(5):
        eng.on_api_error(T0)
    eng.on_balance(D(125), D(30), T0)
    by_rule = {s.rule: s for s in eng.status(T0)}
    assert by_rule[RiskRule.API_ERRORS].state is RuleState.BREACHED
    assert by_rule[RiskRule.MIN_QUOTE_BALANCE].state is RuleState.BREACHED
    assert by_rule[RiskRule.STALE_DATA].state is RuleState.OK
    assert {s.rule for s in eng.status(T0)} == set(RiskRule) - {
        RiskRule.HALTED,
        RiskRule.MARKET_RULES,
        RiskRule.POST_ONLY,
        RiskRule.PRICE_BAND,
    }
    snap = eng.snapshot(T0)
    assert snap["halted"] is False and len(snap["rules"]) == 8


def test_status_does_not_consume_breaches() -> None:
    eng = engine(max_rejects_per_minute=1)
    eng.on_reject(T0)
    eng.on_reject(T0)
    eng.status(T0)
    assert len(eng.check(T0)) == 1


# ---------------------------------------------------------------------- day
def test_day_rollover() -> None:
    eng = RiskEngine(RiskConfig(), RULES)
    assert eng.is_new_day(T0)  # before the first reset
    eng.reset_day(T0)
    assert not eng.is_new_day(DAY0 + 86399.999)
    assert eng.is_new_day(DAY0 + 86400)
    eng.on_pnl(D(-40), T0)
    eng.on_api_error(T0)
    eng.on_reject(T0)
    eng.pre_trade(req(), ctx())  # vetoed: no data yet
    assert eng.vetoes_today["stale_data"] == 1
    eng.reset_day(DAY0 + 86400)
    assert eng.day == utc_day(DAY0 + 86400) == utc_day(DAY0) + 1
    assert eng.daily_pnl == 0 and eng.api_errors_today == 0 and eng.rejects_today == 0
    assert not eng.vetoes_today


@pytest.mark.parametrize(
    ("ts", "day"), [(0.0, 0), (86399.9, 0), (86400.0, 1), (DAY0, 20458), (DAY0 - 0.001, 20457)]
)
def test_utc_day(ts: float, day: int) -> None:
    assert utc_day(ts) == day
