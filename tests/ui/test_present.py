"""The console's pure parts: the config form derived from the agent's models, and the
presentation helpers."""

from __future__ import annotations

from decimal import Decimal as D

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


def test_ladder_points() -> None:
    orders = [
        {"side": "buy", "price": "1.0", "amount": "5", "filled": "1"},
        {"side": "buy", "price": "0.9", "amount": "5", "filled": "0"},
        {"side": "sell", "price": "1.1", "amount": "2", "filled": "0"},
    ]
    p = present.ladder_point(0.0, {"mid": "1.05"}, orders)
    assert (p["bid"], p["ask"], p["bid_far"]) == ("1.0", "1.1", "0.9")


BOOK = {
    # as the status document carries it: exact decimal text, best first; one bad level
    "bids": [
        {"price": "1.00", "amount": "5"},
        {"price": "0.99", "amount": "0.1"},
        {"price": "0.97", "amount": "2"},
        {"price": "x", "amount": "1"},
    ],
    "asks": [{"price": "1.02", "amount": "3"}, {"price": "1.05", "amount": "0.2"}],
    "at": 1_800_000_000.0,
}


def test_cumulative_depth_is_exact_and_ordered() -> None:
    depth = present.cumulative_depth(BOOK)
    assert depth is not None
    bids, asks = depth
    # ascending by price; each level: what rests at that price or better, summed exactly
    assert bids == [(D("0.97"), D("7.1")), (D("0.99"), D("5.1")), (D("1.00"), D("5"))]
    assert asks == [(D("1.02"), D("3")), (D("1.05"), D("3.2"))]
    assert present.cumulative_depth(None) is None
    assert present.cumulative_depth({"bids": BOOK["bids"], "asks": []}) is None


def test_market_depth_chart_marks_own_orders_on_the_curve() -> None:
    orders = [
        {"side": "buy", "price": "0.99", "amount": "0.1", "filled": "0"},
        {"side": "buy", "price": "0.98", "amount": "4", "filled": "2"},
        {"side": "sell", "price": "1.05", "amount": "0.2", "filled": "0"},
        {"side": "sell", "price": "1.02", "amount": "1", "filled": "1"},  # filled: not resting
    ]
    chart = present.market_depth_chart(BOOK, orders, "1.01")
    assert chart is not None
    bids, asks, own_bids, own_asks = chart["series"]
    assert (bids["type"], bids["step"], asks["step"]) == ("line", "start", "end")
    assert bids["data"] == [[0.97, 7.1], [0.99, 5.1], [1.0, 5.0]]
    assert asks["data"] == [[1.02, 3.0], [1.05, 3.2]]
    assert bids["markLine"]["data"][0]["xAxis"] == 1.01
    # each own order sits on its side's curve (depth at its price), sized by what is left
    assert [p["value"] for p in own_bids["data"]] == [[0.98, 5.1], [0.99, 5.1]]
    assert [p["name"] for p in own_bids["data"]] == ["own buy 2 @ 0.98", "own buy 0.1 @ 0.99"]
    sizes = [p["symbolSize"] for p in own_bids["data"]]
    assert sizes[0] > sizes[1] and max(sizes) == 18
    assert [p["value"] for p in own_asks["data"]] == [[1.05, 3.2]]
    assert own_bids["color"] != own_asks["color"]


def test_market_depth_chart_without_a_book() -> None:
    orders = [{"side": "buy", "price": "1", "amount": "1", "filled": "0"}]
    assert present.market_depth_chart(None, orders, "1") is None
    assert present.market_depth_chart({"bids": [], "asks": []}, orders) is None
    assert present.book_caption(BOOK) == "book as of 2027-01-15 08:00:00 UTC"
    assert present.book_caption(None) == ""


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


def test_allowed_commands_offer_nothing_offline_and_follow_the_state() -> None:
    assert present.allowed_commands("RUNNING", online=False) == frozenset()
    assert "resume" not in present.allowed_commands("RUNNING", online=True)
    assert "resume" in present.allowed_commands("PAUSED", online=True)
    assert len(present.allowed_commands("SOMETHING_NEW", online=True)) == 6
