"""Scenarios for the simulated venue: the market, its price process and who else trades there.

A scenario is data (pydantic, unknown fields rejected) so that a run can be described in a YAML
file and reproduced from it plus a seed. The defaults of every model are the `calm` market;
the built-in YAML files under `scenarios/` change only what makes each scenario different.

Units, chosen so a YAML file reads without a manual:
- percentages are percent (0.3 means 0.3 %), rates are events per second unless named otherwise,
  durations are seconds, latencies milliseconds;
- volatility is the standard deviation of the log return over one second, in percent (it scales
  with the square root of time: 0.02 %/s is about 0.15 % per minute, 1.2 % per hour);
- money (prices, notionals, balances, fees) is Decimal; the random processes use floats, and
  every price they produce is rounded onto the tick grid before it reaches an order.
"""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agent.config import SYMBOL_RE, ConfigError, format_validation_error
from agent.model import MarketRules

PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
PosDecimal = Annotated[Decimal, Field(gt=0)]
NonNegDecimal = Annotated[Decimal, Field(ge=0)]
FeeRate = Annotated[Decimal, Field(ge=0, lt=Decimal("0.1"))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class MarketSpec(_Strict):
    """The traded market and its rules (those of a small-cap token on a mid-tier venue)."""

    symbol: str = "USHARK/USDT"
    initial_price: PosDecimal = Decimal("0.002")
    tick_size: PosDecimal = Decimal("0.000001")
    lot_size: PosDecimal = Decimal(1)
    min_notional: NonNegDecimal = Decimal(3)
    min_amount: NonNegDecimal = Decimal(0)
    maker_fee: FeeRate = Decimal("0.001")
    taker_fee: FeeRate = Decimal("0.002")

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, v: str) -> str:
        if not SYMBOL_RE.match(v):
            raise ValueError("must look like BASE/QUOTE in capitals, e.g. USHARK/USDT")
        return v

    @model_validator(mode="after")
    def _on_grid(self) -> Self:
        if self.initial_price % self.tick_size != 0:
            raise ValueError("initial_price must be a multiple of tick_size")
        return self

    def rules(self) -> MarketRules:
        base, quote = self.symbol.split("/")
        return MarketRules(
            symbol=self.symbol,
            base=base,
            quote=quote,
            tick_size=self.tick_size,
            lot_size=self.lot_size,
            min_notional=self.min_notional,
            min_amount=self.min_amount,
            maker_fee=self.maker_fee,
            taker_fee=self.taker_fee,
        )


class Regime(_Strict):
    """A volatility regime; the process stays in it for an exponential time, then switches."""

    name: str
    volatility_pct: NonNegFloat  # std dev of the 1-second log return, percent
    mean_duration_seconds: PosFloat = 300.0
    activity: Annotated[float, Field(ge=0, le=100)] = 1.0  # multiplies the takers' rate


def _calm_regimes() -> list[Regime]:
    return [
        Regime(name="quiet", volatility_pct=0.015, mean_duration_seconds=400),
        Regime(name="normal", volatility_pct=0.03, mean_duration_seconds=300, activity=1.3),
    ]


class PriceProcess(_Strict):
    """The fair price: a geometric random walk with regime switching, drift and jumps."""

    step_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    drift_pct_per_hour: float = 0.0
    regimes: list[Regime] = Field(default_factory=_calm_regimes, min_length=1)
    jump_rate_per_hour: NonNegFloat = 0.5
    jump_size_pct: NonNegFloat = 0.5  # std dev of one jump's log size, percent


class LiquidityProvider(_Strict):
    """A third-party quoter: `levels` orders per side around the fair price, re-quoted at
    exponential intervals (mean `refresh_seconds`) and at once when the fair price has moved
    `requote_move_pct` since its last quotes, so its quotes lag fast moves only a little."""

    name: str
    levels: Annotated[int, Field(ge=1, le=100)] = 5
    distance_pct: PosFloat = 0.35  # first level's distance from fair
    step_pct: PosFloat = 0.3  # between consecutive levels
    notional_min: PosDecimal = Decimal(20)  # per order, in quote
    notional_max: PosDecimal = Decimal(120)
    refresh_seconds: PosFloat = 4.0
    requote_move_pct: PosFloat = 0.5  # re-quote at once when fair moved this far since

    @model_validator(mode="after")
    def _cross(self) -> Self:
        if self.notional_min > self.notional_max:
            raise ValueError("notional_min must be <= notional_max")
        return self


def _calm_lps() -> list[LiquidityProvider]:
    return [
        LiquidityProvider(name="lp-inner"),
        LiquidityProvider(
            name="lp-deep",
            levels=10,
            distance_pct=1.0,
            step_pct=0.5,
            notional_min=Decimal(100),
            notional_max=Decimal(600),
            refresh_seconds=10.0,
        ),
    ]


class Takers(_Strict):
    """Third-party takers: Poisson arrivals of IOC orders sized by notional (log-normal).

    Side choice leans toward the fair price: with the book mid `dev` percent away from fair,
    a taker buys with probability 0.5 + fair_pull * dev (clamped to [0.05, 0.95]). A buyer
    pays at most max(best ask, fair) * (1 + slippage_pct / 100), a seller symmetric; so
    quotes left stale by a move get taken."""

    rate_per_second: NonNegFloat = 0.25
    notional_median: PosDecimal = Decimal(40)
    notional_sigma: Annotated[float, Field(ge=0, le=3)] = 0.6
    notional_max: PosDecimal = Decimal(400)
    fair_pull: NonNegFloat = 0.5
    slippage_pct: NonNegFloat = 0.3


class Latency(_Strict):
    """One-way delays: each API call waits a request leg and a response leg; stream events
    arrive a market-data delay after they happened. Jitter is uniform +/- around the mean."""

    call_mean_ms: NonNegFloat = 40.0
    call_jitter_ms: NonNegFloat = 15.0
    market_data_mean_ms: NonNegFloat = 30.0
    market_data_jitter_ms: NonNegFloat = 10.0

    @model_validator(mode="after")
    def _cross(self) -> Self:
        if self.call_jitter_ms > self.call_mean_ms:
            raise ValueError("call_jitter_ms must be <= call_mean_ms")
        if self.market_data_jitter_ms > self.market_data_mean_ms:
            raise ValueError("market_data_jitter_ms must be <= market_data_mean_ms")
        return self


class Shock(_Strict):
    """A scheduled move of the fair price: `move_pct` over `duration_seconds` starting at
    `at_seconds` after start, then a recovery of `recover_fraction` of the move over
    `recover_seconds`. Both legs are linear in log price and overlay the random walk."""

    at_seconds: NonNegFloat
    move_pct: Annotated[float, Field(gt=-95, lt=500)]
    duration_seconds: PosFloat = 30.0
    recover_fraction: Annotated[float, Field(ge=0, le=1)] = 0.5
    recover_seconds: PosFloat = 180.0


def _default_bot_balances() -> dict[str, Decimal]:
    return {"USDT": Decimal(5000), "USHARK": Decimal(2_500_000)}


class Scenario(_Strict):
    """Everything the simulated venue needs besides the seed and the clock."""

    name: str = "custom"
    description: str = ""
    market: MarketSpec = Field(default_factory=MarketSpec)
    price: PriceProcess = Field(default_factory=PriceProcess)
    liquidity_providers: list[LiquidityProvider] = Field(default_factory=_calm_lps)
    takers: Takers = Field(default_factory=Takers)
    latency: Latency = Field(default_factory=Latency)
    book_publish_ms: Annotated[float, Field(gt=0, le=60_000)] = 100.0
    # an unchanged book is re-sent this often, as a live feed's heartbeat
    book_heartbeat_ms: Annotated[float, Field(gt=0, le=60_000)] = 1000.0
    shocks: list[Shock] = Field(default_factory=list)
    bot_balances: dict[str, NonNegDecimal] = Field(default_factory=_default_bot_balances)

    @model_validator(mode="after")
    def _unique_lps(self) -> Self:
        names = [lp.name for lp in self.liquidity_providers]
        if len(set(names)) != len(names):
            raise ValueError("liquidity_providers: names must be unique")
        return self


class ScenarioError(ConfigError):
    """A scenario that cannot be loaded; `errors` are 'field.path: rule' lines."""

    def __init__(self, source: str, errors: list[str]) -> None:
        super().__init__([f"{source}: {e}" for e in errors])
        self.source = source


def builtin_scenarios() -> list[str]:
    """Names of the scenarios shipped with the package."""
    folder = resources.files(__package__ or "agent.venues.sim") / "scenarios"
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def parse_scenario(
    data: Any, *, source: str = "scenario", default_name: str = "custom"
) -> Scenario:
    """Validate already-parsed YAML/JSON data into a Scenario."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(source, ["(top level): must be a mapping of scenario fields"])
    data = {"name": default_name, **data}
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(source, format_validation_error(exc)) from None


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A built-in scenario by name (`calm`, `flash-crash`, ...) or a scenario YAML file."""
    text_name = str(name_or_path)
    if isinstance(name_or_path, str) and text_name in builtin_scenarios():
        folder = resources.files(__package__ or "agent.venues.sim") / "scenarios"
        text = (folder / f"{text_name}.yaml").read_text(encoding="utf-8")
        return _parse_text(text, source=f"built-in scenario {text_name!r}", name=text_name)
    path = Path(name_or_path)
    if not path.is_file():
        raise ScenarioError(
            text_name,
            [
                "(file): not a built-in scenario name nor a readable file; built-ins: "
                + ", ".join(builtin_scenarios())
            ],
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(text_name, [f"(file): cannot read: {exc.strerror}"]) from None
    return _parse_text(text, source=str(path), name=path.stem)


def _parse_text(text: str, *, source: str, name: str) -> Scenario:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(source, [f"(yaml): {exc}".replace("\n", " ")]) from None
    return parse_scenario(data, source=source, default_name=name)
