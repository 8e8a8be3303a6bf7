"""Volume program: windows, pacing, caps, and one event's order (never self-matching)."""

from __future__ import annotations

import itertools
import random
from datetime import time
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.config import ExecutionMode, VolumeConfig
from agent.model import BookLevel, Inventory, MarketRules, OrderBook, Side, TimeInForce
from agent.orders import TERMINAL, OrderState, TrackedOrder
from agent.self_trade import would_self_match
from agent.strategy.volume import (
    ActiveWindows,
    Skip,
    VolumePlan,
    VolumeScheduler,
    plan_event,
    reducing_side,
)

D = Decimal
DAY0 = 1_767_571_200.0  # 2026-01-05 00:00 UTC
H = 3600.0
WINDOWS = ["07:00-11:00", "13:00-22:00"]
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


def cfg(**kw: object) -> VolumeConfig:
    base: dict[str, object] = {"enabled": True, "active_windows": WINDOWS}
    base.update(kw)
    return VolumeConfig.model_validate(base)


# ---------------------------------------------------------------------- windows
def test_windows_arithmetic() -> None:
    w = ActiveWindows.from_config(cfg())
    assert w.total == 13 * H
    assert not w.is_active(DAY0 + 6.99 * H)
    assert w.is_active(DAY0 + 7 * H) and not w.is_active(DAY0 + 11 * H)
    assert w.seconds_left_today(DAY0) == 13 * H
    assert w.seconds_left_today(DAY0 + 10 * H) == 10 * H
    assert w.seconds_left_today(DAY0 + 12 * H) == 9 * H
    assert w.seconds_left_today(DAY0 + 23 * H) == 0
    assert w.seconds_elapsed_today(DAY0 + 14 * H) == 5 * H
    assert w.next_window_at(DAY0 + 5 * H) == DAY0 + 7 * H
    assert w.next_window_at(DAY0 + 8 * H) == DAY0 + 8 * H
    assert w.next_window_at(DAY0 + 11 * H) == DAY0 + 13 * H
    assert w.next_window_at(DAY0 + 22 * H) == DAY0 + 24 * H + 7 * H
    assert w.next_day_start(DAY0 + 8 * H) == DAY0 + 31 * H
    assert w.advance(DAY0, 60) == DAY0 + 7 * H + 60
    assert w.advance(DAY0 + 10.5 * H, H) == DAY0 + 13.5 * H  # skips 11:00-13:00
    assert w.advance(DAY0 + 21.5 * H, H) is None  # past today's last window


def test_windows_merge_and_midnight() -> None:
    w = ActiveWindows([(time(8), time(12)), (time(10), time(14)), (time(22), None)])
    assert w.spans == ((8 * H, 14 * H), (22 * H, 24 * H))
    assert w.is_active(DAY0 + 23.9 * H)
    assert w.seconds_left_today(DAY0 + 23 * H) == H
    full = ActiveWindows.from_config(cfg(active_windows=["00:00-24:00"]))
    assert full.total == 24 * H and full.is_active(DAY0)
    with pytest.raises(ValueError):
        ActiveWindows([])


# ---------------------------------------------------------------------- pacing
def simulate_day(sched: VolumeScheduler, start: float) -> tuple[Decimal, list[float]]:
    """Instant fills at price 1: every event trades its full size."""
    now, times = start, []
    while True:
        t = sched.next_event_at(now)
        if t is None:
            break
        assert t > now and t < DAY0 + 24 * H
        now = t
        times.append(t)
        size = sched.draw_size()
        if size is None:
            break
        assert sched.cfg.trade_min <= size <= sched.cfg.trade_max
        sched.record_fill(Side.BUY if len(times) % 2 else Side.SELL, D(1), size, D(0), now)
    return sched.done, times


@pytest.mark.parametrize("seed", range(20))
def test_a_day_of_events_hits_the_target(seed: int) -> None:
    c = cfg()
    sched = VolumeScheduler(c, random.Random(seed))
    done, times = simulate_day(sched, DAY0)
    assert abs(done - c.daily_notional) <= c.daily_notional / 10, done
    assert done <= c.max_daily_notional
    assert all(sched.windows.is_active(t) for t in times)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1.0


@pytest.mark.parametrize("seed", range(5))
def test_a_late_start_still_paces_to_the_target(seed: int) -> None:
    c = cfg()
    sched = VolumeScheduler(c, random.Random(seed))
    done, times = simulate_day(sched, DAY0 + 18 * H)  # only 4 active hours left
    assert abs(done - c.daily_notional) <= c.daily_notional / 10, done
    assert times[0] >= DAY0 + 18 * H


def test_same_seed_same_day() -> None:
    a = simulate_day(VolumeScheduler(cfg(), random.Random(7)), DAY0)
    b = simulate_day(VolumeScheduler(cfg(), random.Random(7)), DAY0)
    assert a == b


def test_nothing_when_disabled_reached_or_after_windows() -> None:
    off = VolumeScheduler(cfg(enabled=False), random.Random(1))
    assert off.next_event_at(DAY0) is None
    assert off.progress(DAY0).disabled_reason == "disabled in config"
    s = VolumeScheduler(cfg(daily_notional=D(100)), random.Random(1))
    assert s.next_event_at(DAY0 + 23 * H) is None  # no window left today
    s.record_fill(Side.BUY, D(1), D(100), D(0), DAY0 + 8 * H)
    assert s.next_event_at(DAY0 + 8 * H) is None  # target reached
    nxt = s.next_event_at(DAY0 + 24 * H)  # a new day: target again
    assert nxt is not None and nxt >= DAY0 + 31 * H


def test_hard_notional_cap_disables_for_the_rest_of_the_day() -> None:
    c = cfg(daily_notional=D(100), max_daily_notional=D(150))
    s = VolumeScheduler(c, random.Random(3))
    now = DAY0 + 8 * H
    assert s.record_fill(Side.BUY, D(1), D(100), D(0), now) is None
    size = s.draw_size(in_flight=D(20))
    assert size is not None and size <= 30  # never beyond the cap, resting orders counted
    assert s.draw_size(in_flight=D(45)) is None  # < trade_min left
    why = s.record_fill(Side.SELL, D(1), D(50), D(0), now + 1)
    assert why is not None and "max_daily_notional" in why
    assert s.record_fill(Side.SELL, D(1), D(10), D(0), now + 2) is None  # reported once
    assert s.next_event_at(now + 3) is None
    assert s.progress(now + 3).disabled_reason == why
    assert s.roll_day(DAY0 + 24 * H)
    assert s.disabled_reason == "" and s.done == 0
    assert s.next_event_at(DAY0 + 24 * H) is not None


def test_loss_cap_is_a_kill_switch_on_marked_pnl() -> None:
    s = VolumeScheduler(cfg(max_daily_loss=D(25)), random.Random(3))
    now = DAY0 + 8 * H
    assert s.record_fill(Side.BUY, D(1), D(1000), D(1), now) is None  # fee 1
    assert s.pnl == D(-1)
    assert s.mark(D("0.976"), now + 1) is None  # -24 - 1 = -25: not beyond
    why = s.mark(D("0.975"), now + 2)
    assert why is not None and "max_daily_loss" in why
    assert s.next_event_at(now + 3) is None
    assert not s.disable("risk breach", now + 4)  # already disabled


def test_external_disable_and_progress() -> None:
    s = VolumeScheduler(cfg(), random.Random(3))
    p = s.progress(DAY0 + 5 * H)
    assert (p.expected, p.pace_pct, p.ahead, p.active) == (0, 100, True, False)
    assert p.next_window_at == DAY0 + 7 * H
    s.record_fill(Side.BUY, D(1), D(1000), D(0), DAY0 + 8 * H)
    p = s.progress(DAY0 + 9 * H + 30 * 60)  # 2.5 of 13 active hours: 961.54 expected
    assert p.expected == D("961.54") and p.ahead and p.pace_pct == D("104.0")
    p = s.progress(DAY0 + 14 * H)  # 5 of 13 hours: 1923.08 expected
    assert not p.ahead and p.active and p.next_window_at == DAY0 + 14 * H
    assert p.fields()["pace"] == "behind"
    assert s.disable("operator", DAY0 + 14 * H)
    assert s.next_event_at(DAY0 + 14 * H) is None


def test_lifetime_in_config_range() -> None:
    s = VolumeScheduler(
        cfg(order_lifetime_min_seconds=D(5), order_lifetime_max_seconds=D(9)), random.Random(0)
    )
    assert all(5 <= s.draw_lifetime() <= 9 for _ in range(200))


# ---------------------------------------------------------------------- one event
def mkbook(bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> OrderBook:
    """Levels as (price in ticks, amount)."""
    t = RULES.tick_size
    return OrderBook(
        RULES.symbol,
        tuple(BookLevel(D(p) * t, D(a)) for p, a in bids),
        tuple(BookLevel(D(p) * t, D(a)) for p, a in asks),
        DAY0,
    )


def order(
    cid: str, side: Side, ticks: int, amount: int, state: OrderState = OrderState.OPEN
) -> TrackedOrder:
    return TrackedOrder(
        cid, RULES.symbol, side, D(ticks) * RULES.tick_size, D(amount), True, DAY0, state
    )


RICH = Inventory(base=D(100_000), quote=D(100_000))  # base share ~50 % at price ~1


def test_maker_one_tick_inside_when_there_is_room_else_at_touch() -> None:
    rng = random.Random(0)
    wide = mkbook([(9990, 500)], [(10010, 500)])
    tight = mkbook([(9990, 500)], [(9991, 500)])
    for _ in range(20):
        p = plan_event(D(50), wide, RICH, [], RULES, D(50), ExecutionMode.MAKER_FIRST, rng)
        assert isinstance(p, VolumePlan) and p.tif is TimeInForce.POST_ONLY and not p.taker
        assert p.price == (D("0.9991") if p.side is Side.BUY else D("1.0009"))
        assert p.amount == RULES.floor_amount(D(50) / p.price)
        p = plan_event(D(50), tight, RICH, [], RULES, D(50), ExecutionMode.MAKER_FIRST, rng)
        assert isinstance(p, VolumePlan)
        assert p.price == (D("0.9990") if p.side is Side.BUY else D("0.9991"))
        assert "touch" in p.reason
    assert isinstance(p, VolumePlan)
    req = p.request("v1", RULES.symbol)
    assert (req.side, req.price, req.amount, req.tif) == (p.side, p.price, p.amount, p.tif)


def test_maker_prefers_the_side_toward_the_target() -> None:
    rng = random.Random(1)
    book = mkbook([(9990, 500)], [(10010, 500)])
    quote_heavy = Inventory(base=D(10_000), quote=D(90_000))  # 10 % base, target 50 %
    sides = [
        p.side
        for _ in range(400)
        if isinstance(
            p := plan_event(
                D(50), book, quote_heavy, [], RULES, D(50), ExecutionMode.MAKER_FIRST, rng
            ),
            VolumePlan,
        )
    ]
    assert sides.count(Side.BUY) > 0.8 * len(sides)
    assert Side.SELL in sides  # still random: volume on both sides


def test_maker_skips_a_side_that_would_reach_an_own_order() -> None:
    book = mkbook([(9990, 500)], [(10010, 500)])
    # An own ask whose create is still in flight, not yet in the book, right above the bid.
    own = [order("a", Side.SELL, 9991, 100, OrderState.PENDING_NEW)]
    for seed in range(30):
        p = plan_event(
            D(50), book, RICH, own, RULES, D(50), ExecutionMode.MAKER_FIRST, random.Random(seed)
        )
        assert isinstance(p, VolumePlan)
        assert not would_self_match(p.side, p.price, own)
        assert p.side is Side.SELL  # a buy at 0.9991 would meet the own ask
    own.append(order("b", Side.BUY, 10009, 100, OrderState.PENDING_CANCEL))
    p = plan_event(
        D(50), book, RICH, own, RULES, D(50), ExecutionMode.MAKER_FIRST, random.Random(0)
    )
    assert isinstance(p, Skip) and "own" in p.reason


def test_skips_when_funds_or_minimums_are_missing() -> None:
    book = mkbook([(9990, 500)], [(10010, 500)])
    broke = Inventory(base=D(10), quote=D(1), base_locked=D(0), quote_locked=D(0))
    p = plan_event(
        D(50), book, broke, [], RULES, D(50), ExecutionMode.MAKER_FIRST, random.Random(0)
    )
    assert isinstance(p, Skip) and "needs" in p.reason
    p = plan_event(D(3), book, RICH, [], RULES, D(50), ExecutionMode.MAKER_FIRST, random.Random(0))
    assert isinstance(p, Skip) and "minimums" in p.reason
    locked = Inventory(base=D(100), quote=D(1000), base_locked=D(100), quote_locked=D(990))
    p = plan_event(
        D(50), book, locked, [], RULES, D(50), ExecutionMode.MAKER_FIRST, random.Random(0)
    )
    assert isinstance(p, Skip)  # holdings exist but are all locked
    assert isinstance(
        plan_event(
            D(50), mkbook([], []), RICH, [], RULES, D(50), ExecutionMode.MIXED, random.Random(0)
        ),
        Skip,
    )
    crossed = mkbook([(10010, 1)], [(9990, 1)])
    assert isinstance(
        plan_event(
            D(50), crossed, RICH, [], RULES, D(50), ExecutionMode.MAKER_FIRST, random.Random(0)
        ),
        Skip,
    )


def test_mixed_taker_only_on_the_reducing_side_and_only_foreign_size() -> None:
    book = mkbook([(9990, 5000)], [(10010, 30)])
    quote_heavy = Inventory(base=D(10_000), quote=D(90_000))
    p = plan_event(
        D(80),
        book,
        quote_heavy,
        [],
        RULES,
        D(50),
        ExecutionMode.MIXED,
        random.Random(0),
        taker_probability=1.0,
    )
    assert isinstance(p, VolumePlan) and p.taker and p.tif is TimeInForce.IOC
    assert p.side is Side.BUY and p.price == D("1.0010")
    assert p.amount == 30  # only what others hold at the best ask
    base_heavy = Inventory(base=D(90_000), quote=D(10_000))
    p = plan_event(
        D(80),
        book,
        base_heavy,
        [],
        RULES,
        D(50),
        ExecutionMode.MIXED,
        random.Random(0),
        taker_probability=1.0,
    )
    assert isinstance(p, VolumePlan) and p.taker and p.side is Side.SELL and p.price == D("0.9990")
    assert p.amount == RULES.floor_amount(D(80) / D("0.9990"))
    # The best ask is ours: no taker buy (it could only reach us); fall back to a maker order.
    own = [order("a", Side.SELL, 10010, 30)]
    p = plan_event(
        D(80),
        book,
        quote_heavy,
        own,
        RULES,
        D(50),
        ExecutionMode.MIXED,
        random.Random(0),
        taker_probability=1.0,
    )
    assert isinstance(p, VolumePlan) and not p.taker
    # MAKER_FIRST never takes.
    for seed in range(50):
        p = plan_event(
            D(80),
            book,
            quote_heavy,
            [],
            RULES,
            D(50),
            ExecutionMode.MAKER_FIRST,
            random.Random(seed),
        )
        assert isinstance(p, VolumePlan) and not p.taker


def share_after(plan: VolumePlan, inv: Inventory, mark: Decimal) -> Decimal:
    """Base share after the plan fills completely, taker fee paid in quote."""
    signed = plan.amount if plan.side is Side.BUY else -plan.amount
    fee = plan.notional * RULES.taker_fee
    base = inv.base + signed
    quote = inv.quote - signed * plan.price - fee
    return base * mark / (base * mark + quote)


def test_taker_never_overshoots_the_target() -> None:
    book = mkbook([(9990, 10**6)], [(10000, 10**6)])
    mark = book.mid
    assert mark is not None
    tiny = Inventory(base=D(49_990), quote=D(50_000))  # ~0.005 % below the 50 % target
    p = plan_event(
        D(80),
        book,
        tiny,
        [],
        RULES,
        D(50),
        ExecutionMode.MIXED,
        random.Random(0),
        taker_probability=1.0,
    )
    assert not (isinstance(p, VolumePlan) and p.taker)  # too close to the target to take
    near = Inventory(base=D(49_000), quote=D(50_000))  # ~0.5 % below the target
    p = plan_event(
        D(80),
        book,
        near,
        [],
        RULES,
        D(50),
        ExecutionMode.MIXED,
        random.Random(0),
        taker_probability=1.0,
    )
    assert isinstance(p, VolumePlan) and p.taker and p.side is Side.BUY
    assert near.base_share(mark) < share_after(p, near, mark) <= D("0.5")
    # A big event closes at most half of the gap: fills on the way cannot cause an overshoot.
    p = plan_event(
        D(5000),
        book,
        near,
        [],
        RULES,
        D(50),
        ExecutionMode.MIXED,
        random.Random(0),
        taker_probability=1.0,
    )
    assert isinstance(p, VolumePlan) and p.taker
    before = D("0.5") - near.base_share(mark)
    after = D("0.5") - share_after(p, near, mark)
    assert after >= 0 and after >= before / 2 - D("0.0001")
    # The inventory is valued at the caller's mark when given (e.g. the mid without own orders).
    p = plan_event(
        D(80),
        book,
        near,
        [],
        RULES,
        D(50),
        ExecutionMode.MIXED,
        random.Random(0),
        taker_probability=1.0,
        mark=D("1.1"),
    )
    assert isinstance(p, VolumePlan) and p.taker and p.side is Side.SELL
    on_target = Inventory(base=D(50_000), quote=D(50_000))
    assert reducing_side(on_target.base_share(D(1)), D("0.5")) is None
    for seed in range(30):
        p = plan_event(
            D(80),
            mkbook([(9999, 10**6)], [(10001, 10**6)]),
            on_target,
            [],
            RULES,
            D(50),
            ExecutionMode.MIXED,
            random.Random(seed),
            taker_probability=1.0,
        )
        assert isinstance(p, VolumePlan) and not p.taker


# Hypothesis: random books, own orders (in any state), inventories and modes.
_level = st.tuples(st.integers(1, 400), st.integers(0, 2000))


@st.composite
def scenario(
    draw: st.DrawFn,
) -> tuple[OrderBook, list[TrackedOrder], Inventory, ExecutionMode, Decimal, int]:
    mid = draw(st.integers(9_000, 11_000))
    one_sided = draw(st.sampled_from([None, Side.BUY, Side.SELL, None, None, None]))
    n_bids = 0 if one_sided is Side.SELL else draw(st.integers(1, 5))
    n_asks = 0 if one_sided is Side.BUY else draw(st.integers(1, 5))
    bid_offsets = sorted(set(draw(st.lists(st.integers(1, 300), min_size=n_bids, max_size=n_bids))))
    ask_offsets = sorted(set(draw(st.lists(st.integers(0, 300), min_size=n_asks, max_size=n_asks))))
    bids = [(mid - o, draw(st.integers(1, 2000))) for o in bid_offsets]
    asks = [(mid + o, draw(st.integers(1, 2000))) for o in ask_offsets]
    if bids and asks and asks[0][0] <= bids[0][0]:
        asks = [(p, a) for p, a in asks if p > bids[0][0]]
    book = mkbook(bids, asks)
    own = []
    for i in range(draw(st.integers(0, 8))):
        side = draw(st.sampled_from([Side.BUY, Side.SELL]))
        # Own orders cluster around the touch, where they matter most.
        ticks = mid + draw(st.integers(-30, 30)) * draw(st.sampled_from([1, 10]))
        state = draw(st.sampled_from(list(OrderState)))
        own.append(order(f"o{i}", side, max(ticks, 1), draw(st.integers(1, 500)), state))
    base = D(draw(st.integers(0, 200_000)))
    quote = D(draw(st.integers(0, 200_000)))
    inv = Inventory(
        base=base,
        quote=quote,
        base_locked=base * draw(st.integers(0, 100)) / 100,
        quote_locked=quote * draw(st.integers(0, 100)) / 100,
    )
    mode = draw(st.sampled_from(list(ExecutionMode)))
    size = D(draw(st.integers(500, 10_000))) / 100
    return book, own, inv, mode, size, draw(st.integers(0, 2**32))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sc=scenario(), target_pct=st.integers(0, 100))
def test_plan_event_never_self_matches(
    sc: tuple[OrderBook, list[TrackedOrder], Inventory, ExecutionMode, Decimal, int],
    target_pct: int,
) -> None:
    book, own, inv, mode, size, seed = sc
    p = plan_event(
        size, book, inv, own, RULES, D(target_pct), mode, random.Random(seed), taker_probability=0.7
    )
    if isinstance(p, Skip):
        assert p.reason
        return
    live = [o for o in own if o.state not in TERMINAL]
    assert not would_self_match(p.side, p.price, live)
    assert RULES.fits(p.price, p.amount)
    if p.side is Side.BUY:
        assert p.price * p.amount <= inv.quote - inv.quote_locked
    else:
        assert p.amount <= inv.base - inv.base_locked
    if not p.taker:
        assert p.tif is TimeInForce.POST_ONLY
        if p.side is Side.BUY:
            assert book.best_ask is None or p.price < book.best_ask
            assert book.best_bid is not None and p.price >= book.best_bid
        else:
            assert book.best_bid is None or p.price > book.best_bid
            assert book.best_ask is not None and p.price <= book.best_ask
        return
    assert mode is ExecutionMode.MIXED
    mark = book.mid or book.best_bid or book.best_ask
    assert mark is not None
    assert p.side is reducing_side(inv.base_share(mark), D(target_pct) / 100)
    level = (book.asks if p.side is Side.BUY else book.bids)[0]
    assert p.price == level.price
    own_there = sum(
        (o.remaining for o in live if o.side is not p.side and o.price == p.price), D(0)
    )
    assert p.amount <= level.amount - own_there
