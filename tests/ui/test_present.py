"""The console's pure parts: the config form derived from the agent's models, and the
presentation helpers."""

from __future__ import annotations

from pydantic import BaseModel

from agent.config import BotConfig, load_config
from tests.conftest import ROOT
from ui import config_form, present
from ui.session import LoginLimiter

USHARK = ROOT / "examples" / "ushark.yaml"


def _leaves(model: type[BaseModel], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for name, info in model.model_fields.items():
        tp, _ = config_form.unwrap(info.annotation)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            out |= _leaves(tp, f"{prefix}{name}.")
        else:
            out.add(f"{prefix}{name}")
    return out


def test_form_has_every_config_field() -> None:
    assert {f.path for f in config_form.FIELDS} == _leaves(BotConfig)


def test_form_round_trip_is_exact() -> None:
    cfg = load_config(USHARK).dump()
    normal, errors = config_form.validate(config_form.to_form(cfg))
    assert errors == {} and normal == cfg


def test_errors_land_on_fields() -> None:
    values = config_form.to_form(load_config(USHARK).dump())
    values["market_making.buy_order_min"] = "500"
    values["volume.active_windows"] = "07:00-06:00"
    values["pricing.source"] = "external"
    values["risk.max_open_orders"] = "0"
    normal, errors = config_form.validate(values)
    assert normal is None
    assert errors["market_making.buy_order_min"] == "must be <= buy_order_max"
    assert "must end after it starts" in errors["volume.active_windows"]
    assert errors["pricing.external.venue"].startswith("is required")
    assert errors["risk.max_open_orders"] == "must be >= 1"


def test_optional_external_market() -> None:
    values = config_form.to_form(load_config(USHARK).dump())
    assert config_form.to_config(values)["pricing"]["external"] is None
    values["pricing.external.venue"] = "gate"
    values["pricing.external.symbol"] = "USHARK/USDT"
    normal, errors = config_form.validate(values)
    assert errors == {} and normal is not None
    assert normal["pricing"]["external"] == {"venue": "gate", "symbol": "USHARK/USDT"}


def test_loc_to_path() -> None:
    assert config_form.loc_to_path(("body", "config", "bot", "name")) == "bot.name"


def test_fmt_keeps_decimals_exact() -> None:
    assert present.fmt("0.0020005") == "0.0020005"
    assert present.fmt("2000.50") == "2000.5"
    assert present.fmt("1E+3") == "1000"
    assert present.fmt(None) == "–"


def test_risk_rows_flag_breaches() -> None:
    rows = present.risk_rows(
        {
            "rules": [
                {"rule": "daily_loss", "value": "60", "limit": "50", "state": "BREACH"},
                {"rule": "rejects", "value": 0, "limit": 10, "state": "OK"},
            ]
        }
    )
    assert [r["breach"] for r in rows] == [True, False]


def test_event_filters() -> None:
    events = [
        {"seq": 3, "kind": "error", "severity": "error", "msg": "x"},
        {"seq": 2, "kind": "state", "severity": "info", "to": "RUNNING"},
        {"seq": 1, "kind": "fill", "severity": "info"},
    ]
    assert [r["seq"] for r in present.event_rows(events, "warning")] == [3]
    assert [r["seq"] for r in present.event_rows(events, "debug", ["state", "fill"])] == [2, 1]


def test_depth_and_ladder_points() -> None:
    orders = [
        {"side": "buy", "price": "1.0", "amount": "5", "filled": "1"},
        {"side": "buy", "price": "0.9", "amount": "5", "filled": "0"},
        {"side": "sell", "price": "1.1", "amount": "2", "filled": "0"},
    ]
    chart = present.depth_chart(orders, "1.05")
    assert chart["series"][0]["data"] == [[0.9, 9.0], [1.0, 4.0]]
    assert chart["series"][1]["data"] == [[1.1, 2.0]]
    p = present.ladder_point(0.0, {"mid": "1.05"}, orders)
    assert (p["bid"], p["ask"], p["bid_far"]) == ("1.0", "1.1", "0.9")


def test_login_limiter() -> None:
    lim = LoginLimiter(attempts=2, window=10)
    keys = ["user:a", "addr:x"]
    lim.failed(keys, now=0)
    assert lim.retry_after(keys, now=1) == 0
    lim.failed(keys, now=1)
    assert lim.retry_after(keys, now=2) == 8
    assert lim.retry_after(["user:b", "addr:x"], now=2) == 8  # same address, other user
    assert lim.retry_after(keys, now=11) == 0
    lim.succeeded(keys)
    assert lim.retry_after(keys, now=2) == 0
