"""Sanity of the rolling volatility estimator that sets the grid's spread."""

from __future__ import annotations

import math
import random
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.strategy.volatility import RollingVolatility


def random_walk(
    sigma_pct_per_min: float, seconds: float, dt: float, seed: int = 1, irregular: bool = False
) -> list[tuple[float, float]]:
    """A geometric random walk with a known volatility, sampled every `dt` seconds (or at
    exponentially distributed intervals of mean `dt`)."""
    rng = random.Random(seed)
    sigma_per_s = sigma_pct_per_min / 100 / math.sqrt(60)
    t, log_p, out = 0.0, math.log(100.0), [(0.0, 100.0)]
    while t < seconds:
        step = rng.expovariate(1 / dt) if irregular else dt
        t += step
        log_p += rng.gauss(0, sigma_per_s * math.sqrt(step))
        out.append((t, math.exp(log_p)))
    return out


def estimate(path: list[tuple[float, float]], window: float = 300) -> float:
    v = RollingVolatility(window)
    for at, p in path:
        v.add(at, p)
    return v.pct_per_minute()


def test_too_few_samples_is_zero() -> None:
    v = RollingVolatility(60)
    assert v.pct_per_minute() == 0.0
    v.add(0.0, D("100"))
    assert v.pct_per_minute() == 0.0
    v.add(1.0, D("101"))
    assert v.pct_per_minute() == 0.0  # one return is not an estimate yet
    v.add(2.0, D("100"))
    assert v.pct_per_minute() > 0.0


def test_constant_price_is_zero() -> None:
    v = RollingVolatility(60)
    for i in range(1000):
        v.add(i * 0.1, D("42.5"))
    assert v.pct_per_minute() == 0.0
    assert len(v) == 0  # unchanged prices are not stored


def test_recovers_known_volatility() -> None:
    for sigma in (0.05, 0.5, 2.0):
        est = estimate(random_walk(sigma, 300, 0.5))
        assert est == pytest.approx(sigma, rel=0.15)


def test_irregular_sampling_gives_the_same_answer() -> None:
    regular = estimate(random_walk(0.4, 300, 0.25, seed=3))
    sparse = estimate(random_walk(0.4, 300, 2.0, seed=4, irregular=True))
    assert regular == pytest.approx(0.4, rel=0.15)
    assert sparse == pytest.approx(0.4, rel=0.25)


def test_higher_noise_gives_higher_value() -> None:
    values = [estimate(random_walk(s, 300, 0.5, seed=7)) for s in (0.01, 0.1, 1.0, 5.0)]
    assert values == sorted(values)
    assert values[0] > 0


def test_old_moves_leave_the_window() -> None:
    v = RollingVolatility(60)
    for at, p in random_walk(3.0, 60, 0.5):
        v.add(at, p)
    assert v.pct_per_minute() > 1.0
    last = p
    for i in range(1, 200):  # two calm minutes: the price does not move
        v.add(60 + i, last)
    assert v.pct_per_minute() == 0.0
    assert len(v) == 0


def test_bad_input_is_ignored() -> None:
    v = RollingVolatility(60)
    for i, p in enumerate([100, 101, 100, 101]):
        v.add(float(i), p)
    before = v.pct_per_minute()
    for bad in (0, -5, float("nan"), float("inf")):
        v.add(10.0, bad)
    assert v.pct_per_minute() == pytest.approx(before)
    v.add(1.0, 100.5)  # a timestamp from the past counts as "now"
    assert v.pct_per_minute() > 0


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RollingVolatility(0)


@settings(max_examples=100, deadline=None)
@given(
    prices=st.lists(st.floats(1.0, 1000.0), min_size=0, max_size=200),
    dt=st.floats(0.001, 10.0),
    window=st.floats(1.0, 600.0),
)
def test_estimate_is_finite_and_non_negative(prices: list[float], dt: float, window: float) -> None:
    v = RollingVolatility(window)
    for i, p in enumerate(prices):
        v.add(i * dt, p)
        out = v.pct_per_minute()
        assert out >= 0.0 and math.isfinite(out)
    assert len(v) <= len(prices)
