"""Scenario loading: built-in names, YAML files, and clear errors for bad files."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from agent.venues.sim import Scenario, ScenarioError, builtin_scenarios, load_scenario

REQUIRED = {"calm", "trending", "volatile", "flash-crash", "thin-book"}


def test_builtin_scenarios_load_and_differ() -> None:
    names = set(builtin_scenarios())
    assert names >= REQUIRED
    loaded = {n: load_scenario(n) for n in names}
    assert all(s.name == n for n, s in loaded.items())
    assert loaded["calm"].market.rules().tick_size == Decimal("0.000001")
    assert loaded["trending"].price.drift_pct_per_hour > 0
    crash = loaded["flash-crash"].shocks
    assert len(crash) == 1 and crash[0].move_pct == -20
    thin, calm = loaded["thin-book"], loaded["calm"]
    assert sum(lp.levels for lp in thin.liquidity_providers) < sum(
        lp.levels for lp in calm.liquidity_providers
    )
    assert max(r.volatility_pct for r in loaded["volatile"].price.regimes) > max(
        r.volatility_pct for r in calm.price.regimes
    )


def test_calm_file_matches_the_model_defaults() -> None:
    """calm.yaml spells the defaults out; they must not drift apart."""
    calm = load_scenario("calm").model_dump(exclude={"name", "description"})
    assert calm == Scenario().model_dump(exclude={"name", "description"})


def test_yaml_file_with_overrides(tmp_path: Path) -> None:
    path = tmp_path / "my-market.yaml"
    path.write_text(
        "market: {symbol: FOO/USDC, initial_price: 1.25, tick_size: 0.01}\n"
        "takers: {rate_per_second: 2}\n"
        "bot_balances: {USDC: 100.5, FOO: 10}\n",
        encoding="utf-8",
    )
    s = load_scenario(path)
    assert s.name == "my-market"
    assert s.market.rules().base == "FOO" and s.market.initial_price == Decimal("1.25")
    assert s.takers.rate_per_second == 2.0 and s.takers.notional_median == Decimal(40)
    assert s.bot_balances == {"USDC": Decimal("100.5"), "FOO": Decimal(10)}
    assert load_scenario(str(path)) == s


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("takers: {rate_per_second: -1}\n", "takers.rate_per_second: must be >= 0"),
        ("takers: {rate: 1}\n", "takers.rate: unknown field"),
        ("liquidity_providers: [{levels: 3}]\n", "liquidity_providers.0.name: is required"),
        ("market: {initial_price: 0.0020005}\n", "market: initial_price must be a multiple"),
        ("shocks: [{at_seconds: 10, move_pct: -120}]\n", "shocks.0.move_pct: must be > -95"),
        ("- just\n- a list\n", "(top level): must be a mapping"),
        ("takers: {rate_per_second: [1\n", "(yaml)"),
    ],
)
def test_bad_yaml_names_the_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert any(expected in line for line in info.value.errors), info.value.errors
    assert str(path) in str(info.value)


def test_unknown_name_lists_builtins() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario("no-such-scenario")
    assert "calm" in str(info.value) and "flash-crash" in str(info.value)
