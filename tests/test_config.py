"""Configuration: every bad input names the field and the rule; nothing runs."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from agent.config import ConfigError, load_config, parse_config, parse_config_text

BASE = {"bot": {"name": "t1", "venue": "sim", "symbol": "USHARK/USDT"}}


def _with(block: str, **fields: object) -> dict[str, object]:
    d: dict[str, object] = {k: dict(v) for k, v in BASE.items()}
    d[block] = {**d.get(block, {}), **fields}  # type: ignore[dict-item]
    return d


def _errors(data: object) -> list[str]:
    with pytest.raises(ConfigError) as ei:
        parse_config(data)
    return ei.value.errors


def test_example_loads_with_exact_decimals(ushark_yaml: Path) -> None:
    cfg = load_config(ushark_yaml)
    assert cfg.bot.symbol == "USHARK/USDT"
    assert cfg.market_making.spread_min_pct == Decimal("0.4")
    assert isinstance(cfg.market_making.step_pct, Decimal)
    assert cfg.market_making.levels_up == 10


def test_yaml_floats_are_exact() -> None:
    cfg = parse_config_text("bot: {name: a, symbol: A/B}\nmarket_making: {step_pct: 0.1}\n")
    assert cfg.market_making.step_pct == Decimal("0.1")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            _with("market_making", spread_min_pct=3, spread_max_pct=2),
            "market_making.spread_min_pct: must be <= spread_max_pct",
        ),
        (_with("market_making", buy_order_min=300), "market_making.buy_order_min: must be <="),
        (
            _with("market_making", sell_order_min=200000),
            "market_making.sell_order_min: must be <= sell_order_max",
        ),
        (_with("market_making", levels_up=-1), "market_making.levels_up: must be >= 0"),
        (_with("market_making", levels_up=5000), "market_making.levels_up: must be <= 100"),
        (_with("market_making", step_pct=0), "market_making.step_pct: must be > 0"),
        (_with("market_making", budget_quote=-5), "market_making.budget_quote: must be >= 0"),
        (_with("market_making", distribution="WAVY"), "market_making.distribution: must be one of"),
        (_with("market_making", spred_min_pct=1), "market_making.spred_min_pct: unknown field"),
        (
            _with("market_making", levels_up=0, levels_down=0),
            "market_making.levels_up: levels_up and levels_down cannot both be 0",
        ),
        (
            _with("market_making", budget_quote=1, budget_base=1),
            "market_making.budget_quote: no side can trade",
        ),
        (_with("market_making", skew_factor=2), "market_making.skew_factor: must be <= 1"),
        (_with("volume", trade_min=100, trade_max=50), "volume.trade_min: must be <= trade_max"),
        (_with("volume", active_windows=["11:00-07:00"]), "volume.active_windows: window"),
        (_with("volume", self_match=True), "volume.self_match: unknown field"),
        (_with("risk", max_open_orders=0), "risk.max_open_orders: must be >= 1"),
        (_with("risk", on_breach={"daily_loss": "IGNORE"}), "risk.on_breach.daily_loss: must be"),
        (_with("pricing", source="external"), "pricing.external: is required"),
        ({"bot": {"name": "Bad Name!", "symbol": "USHARK/USDT"}}, "bot.name: must be"),
        ({"bot": {"name": "x", "symbol": "usharkusdt"}}, "bot.symbol: must look like BASE/QUOTE"),
        ({"market_making": {}}, "bot: is required"),
        ([1, 2], "(top level): must be a mapping"),
    ],
)
def test_bad_input_names_field_and_rule(data: object, expected: str) -> None:
    errors = _errors(data)
    assert any(e.startswith(expected) for e in errors), errors


def test_volume_block_cannot_express_self_matching() -> None:
    # No field of the volume block accepts a self-match or multi-account switch.
    for key in ("self_trade", "allow_self_match", "wash", "accounts", "counterparty_account"):
        assert any("unknown field" in e for e in _errors(_with("volume", **{key: True})))


def test_unreadable_file_and_broken_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    p = tmp_path / "broken.yaml"
    p.write_text("bot: {name: [\n")
    with pytest.raises(ConfigError, match=r"\(yaml\)"):
        load_config(p)


def test_cli_exits_2_naming_the_field(tmp_path: Path, ushark_yaml: Path) -> None:
    data = yaml.safe_load(ushark_yaml.read_text())
    data["market_making"]["spread_min_pct"] = 5
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mmbot.cli",
            "agent",
            "run",
            "--config",
            str(bad),
            "--speed",
            "max",
            "--duration",
            "10",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "market_making.spread_min_pct: must be <= spread_max_pct" in proc.stderr
    assert proc.stdout == ""


def test_cli_usage_error_exits_2(ushark_yaml: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mmbot.cli",
            "agent",
            "run",
            "--config",
            str(ushark_yaml),
            "--speed",
            "warp",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
