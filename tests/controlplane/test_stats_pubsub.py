"""Pure parts: daily-stat folding (property-based) and the live pub/sub."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import hypothesis.strategies as st
from hypothesis import given

from controlplane.links.stats import MAX_GAP_SECONDS, BotClock, DayStats, fold
from controlplane.live.pubsub import PubSub, topics_for

DAY = dt.date(2026, 1, 1)
T0 = 1767225600.0  # 2026-01-01T00:00:00Z

money = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("100000"), places=6)
fills = st.lists(
    st.tuples(money, money, money, st.sampled_from(["USDT", "ABC", "BNB"])), max_size=30
)


@given(fills)
def test_volume_and_fees_are_exact_sums(rows: list[tuple[Decimal, Decimal, Decimal, str]]) -> None:
    stats, clock = DayStats(1, 1, DAY), BotClock()
    for i, (price, amount, fee, asset) in enumerate(rows):
        data = {"price": str(price), "amount": str(amount), "fee": str(fee), "fee_asset": asset}
        fold(stats, clock, "fill", T0 + i, data, "ABC", "USDT")
    assert stats.fills == len(rows)
    assert stats.volume_quote == sum((p * a for p, a, _, _ in rows), Decimal(0))
    expected_fees = sum((f for _, _, f, asset in rows if asset == "USDT"), Decimal(0)) + sum(
        (f * p for p, _, f, asset in rows if asset == "ABC"), Decimal(0)
    )
    assert stats.fees_quote == expected_fees  # other assets are not guessed at


@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0.001, max_value=600, allow_nan=False),
            st.sampled_from(["RUNNING", "PAUSED", "STOPPED"]),
        ),
        min_size=1,
        max_size=50,
    )
)
def test_uptime_counts_running_time_and_caps_gaps(steps: list[tuple[float, str]]) -> None:
    stats, clock = DayStats(1, 1, DAY), BotClock()
    at = T0
    running = observed = 0.0
    state = ""
    for gap, new_state in steps:
        at += gap
        fold(stats, clock, "state", at, {"to": new_state}, "ABC", "USDT")
        if state:  # the first event only starts the clock
            observed += min(gap, MAX_GAP_SECONDS)
            running += min(gap, MAX_GAP_SECONDS) if state == "RUNNING" else 0.0
        state = new_state
    assert abs(stats.observed_seconds - observed) < 1e-6
    assert abs(stats.running_seconds - running) < 1e-6
    assert 0 <= stats.running_seconds <= stats.observed_seconds + 1e-9
    pct = stats.uptime_pct
    assert pct is None or Decimal(0) <= pct <= Decimal(100)


def test_pnl_of_the_day_starts_from_yesterdays_close() -> None:
    clock = BotClock()
    day1, day2 = DayStats(1, 1, DAY), DayStats(1, 1, DAY + dt.timedelta(days=1))
    fold(day1, clock, "status", T0 + 10, {"pnl_quote": "1.5", "state": "RUNNING"}, "A", "B")
    fold(day1, clock, "status", T0 + 20, {"pnl_quote": "2.0", "state": "RUNNING"}, "A", "B")
    fold(day2, clock, "status", T0 + 86410, {"pnl_quote": "1.25", "state": "RUNNING"}, "A", "B")
    assert day1.pnl_quote == Decimal("0.5")
    assert day2.pnl_quote == Decimal("-0.75")


def test_unparseable_values_are_ignored_not_fatal() -> None:
    stats, clock = DayStats(1, 1, DAY), BotClock()
    fold(stats, clock, "fill", T0, {"price": "NaN", "amount": "x"}, "A", "B")
    fold(stats, clock, "status", T0 + 1, {"pnl_quote": None}, "A", "B")
    assert stats.fills == 0 and stats.pnl_quote is None


def test_pubsub_delivers_once_per_subscriber_and_drops_oldest_when_full() -> None:
    hub = PubSub()
    both = hub.subscribe("tenant:1", "bot:5", maxsize=3)
    other = hub.subscribe("tenant:2")
    wildcard = hub.subscribe("*")
    for i in range(5):
        hub.publish("event", {"i": i}, topics_for(1, 7, 5))
    got = []
    while (m := both.get_nowait()) is not None:
        got.append(m.data["i"])
    assert got == [2, 3, 4] and both.lagged and both.dropped == 2
    assert other.get_nowait() is None
    assert wildcard.pending() == 5
    both.close()
    other.close()
    wildcard.close()
    assert hub.subscriber_count() == 0
    assert hub.publish("event", {}, ("tenant:1",)) == 0
