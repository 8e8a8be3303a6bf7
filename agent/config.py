"""Bot configuration: the user-facing contract, validated by pydantic v2.

These models are the single source of truth for validation: the CLI, the gRPC API, the control
plane and the console all import them. Field names are part of the contract; do not rename.
"""

from __future__ import annotations

import enum
import re
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

MAX_LEVELS_PER_SIDE = 100

PositiveDecimal = Annotated[Decimal, Field(gt=0)]
NonNegDecimal = Annotated[Decimal, Field(ge=0)]
Pct = Annotated[Decimal, Field(gt=0, le=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class Distribution(enum.StrEnum):
    LINEAR = "LINEAR"  # every level the same size
    VALLEY = "VALLEY"  # size decreases linearly away from mid: more size near mid
    RANDOM = "RANDOM"  # seeded random weights in [0.5, 1.5]


class BreachAction(enum.StrEnum):
    PAUSE = "PAUSE"
    STOP = "STOP"
    KILL = "KILL"


class ExecutionMode(enum.StrEnum):
    MAKER_FIRST = "MAKER_FIRST"
    MIXED = "MIXED"


class PriceSource(enum.StrEnum):
    MID = "mid"
    MICRO = "micro"
    LAST_TRADE = "last_trade"
    EXTERNAL = "external"


class NotifyLevel(enum.StrEnum):
    ON = "on"
    SILENT = "silent"
    OFF = "off"


SYMBOL_RE = re.compile(r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}$")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
VENUE_RE = re.compile(r"^[a-z][a-z0-9]{1,30}$")
WINDOW_RE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class BotSection(_Strict):
    name: str = Field(description="Bot name: lowercase letters, digits, '-' and '_'")
    venue: str = Field(default="sim", description="'sim' or a ccxt exchange id such as 'gate'")
    symbol: str = Field(description="Market as BASE/QUOTE, e.g. USHARK/USDT")
    venue_url: str | None = Field(
        default=None,
        description="Override of the venue's API base URL (e.g. the local exchange emulator)",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError("must be 1-40 chars of a-z, 0-9, '-', '_', starting with a-z/0-9")
        return v

    @field_validator("venue")
    @classmethod
    def _venue(cls, v: str) -> str:
        if not VENUE_RE.match(v):
            raise ValueError("must be 'sim' or a lowercase ccxt exchange id such as 'gate'")
        return v

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, v: str) -> str:
        if not SYMBOL_RE.match(v):
            raise ValueError("must look like BASE/QUOTE in capitals, e.g. USHARK/USDT")
        return v

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1]


class MarketMakingConfig(_Strict):
    levels_up: int = Field(default=10, ge=0, le=MAX_LEVELS_PER_SIDE)
    levels_down: int = Field(default=10, ge=0, le=MAX_LEVELS_PER_SIDE)
    spread_min_pct: Pct = Decimal("0.4")
    spread_max_pct: Pct = Decimal("2.0")
    step_pct: Annotated[Decimal, Field(gt=0, le=50)] = Decimal("0.25")
    budget_quote: NonNegDecimal = Decimal(2000)
    budget_base: NonNegDecimal = Decimal(1000000)
    buy_order_min: PositiveDecimal = Decimal(10)
    buy_order_max: PositiveDecimal = Decimal(200)
    sell_order_min: PositiveDecimal = Decimal(5000)
    sell_order_max: PositiveDecimal = Decimal(100000)
    distribution: Distribution = Distribution.VALLEY
    skew_factor: Annotated[Decimal, Field(ge=0, le=1)] = Decimal("0.5")
    inventory_target_base_pct: Annotated[Decimal, Field(ge=0, le=100)] = Decimal(50)
    post_only: bool = True
    refresh_tolerance_pct: Annotated[Decimal, Field(ge=0, le=10)] = Decimal("0.05")
    refresh_size_tolerance_pct: Annotated[Decimal, Field(ge=0, le=50)] = Decimal(5)
    volatility_spread_factor: Annotated[Decimal, Field(ge=0, le=100)] = Decimal(1)
    volatility_window_seconds: Annotated[int, Field(ge=10, le=3600)] = 300

    @model_validator(mode="after")
    def _cross(self) -> Self:
        if self.spread_min_pct > self.spread_max_pct:
            raise _field_error("spread_min_pct", "must be <= spread_max_pct")
        if self.buy_order_min > self.buy_order_max:
            raise _field_error("buy_order_min", "must be <= buy_order_max")
        if self.sell_order_min > self.sell_order_max:
            raise _field_error("sell_order_min", "must be <= sell_order_max")
        if self.levels_up + self.levels_down == 0:
            raise _field_error("levels_up", "levels_up and levels_down cannot both be 0")
        buy_ok = self.levels_down > 0 and self.budget_quote >= self.buy_order_min
        sell_ok = self.levels_up > 0 and self.budget_base >= self.sell_order_min
        if not buy_ok and not sell_ok:
            raise _field_error(
                "budget_quote",
                f"no side can trade: budget_quote {self.budget_quote} vs buy_order_min "
                f"{self.buy_order_min}, budget_base {self.budget_base} vs sell_order_min "
                f"{self.sell_order_min}",
            )
        return self


class VolumeConfig(_Strict):
    """Volume program. It only ever trades with other participants; there is no knob for
    self-matching or for coordinating accounts, by design (see README)."""

    enabled: bool = False
    daily_notional: NonNegDecimal = Decimal(5000)
    trade_min: PositiveDecimal = Decimal(10)
    trade_max: PositiveDecimal = Decimal(80)
    active_windows: list[str] = Field(default_factory=lambda: ["00:00-24:00"])
    execution_mode: ExecutionMode = ExecutionMode.MAKER_FIRST
    max_daily_notional: NonNegDecimal = Decimal(7500)
    max_daily_loss: NonNegDecimal = Decimal(25)
    order_lifetime_min_seconds: Annotated[Decimal, Field(gt=0, le=3600)] = Decimal(5)
    order_lifetime_max_seconds: Annotated[Decimal, Field(gt=0, le=3600)] = Decimal(60)

    @field_validator("active_windows")
    @classmethod
    def _windows(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("needs at least one window such as '07:00-11:00'")
        for w in v:
            parse_window(w)
        return v

    @model_validator(mode="after")
    def _cross(self) -> Self:
        if self.trade_min > self.trade_max:
            raise _field_error("trade_min", "must be <= trade_max")
        if self.max_daily_notional < self.daily_notional:
            raise _field_error("max_daily_notional", "must be >= daily_notional")
        if self.order_lifetime_min_seconds > self.order_lifetime_max_seconds:
            raise _field_error(
                "order_lifetime_min_seconds", "must be <= order_lifetime_max_seconds"
            )
        return self

    def windows(self) -> list[tuple[time, time | None]]:
        """Active windows as (start, end) UTC times; end None means midnight (24:00)."""
        return [parse_window(w) for w in self.active_windows]


def parse_window(w: str) -> tuple[time, time | None]:
    m = WINDOW_RE.match(w)
    if not m:
        raise ValueError(f"window {w!r} must look like 'HH:MM-HH:MM' (UTC)")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ValueError(f"window {w!r} has an invalid time")
    start = time(h1, m1)
    end = None if h2 == 24 else time(h2, m2)
    if end is not None and end <= start:
        raise ValueError(f"window {w!r} must end after it starts (split windows over midnight)")
    return start, end


class OnBreach(_Strict):
    price_deviation: BreachAction = BreachAction.PAUSE
    daily_loss: BreachAction = BreachAction.STOP
    stale_data: BreachAction = BreachAction.PAUSE
    api_errors: BreachAction = BreachAction.PAUSE
    rejects: BreachAction = BreachAction.PAUSE


class RiskConfig(_Strict):
    min_quote_balance: NonNegDecimal = Decimal(100)
    max_price_deviation_pct: Annotated[Decimal, Field(gt=0, le=100)] = Decimal(5)
    max_open_orders: int = Field(default=40, ge=1, le=1000)
    max_daily_loss: PositiveDecimal = Decimal(50)
    stale_data_seconds: Annotated[Decimal, Field(gt=0, le=3600)] = Decimal(10)
    max_api_errors_per_minute: int = Field(default=20, ge=1, le=10000)
    max_rejects_per_minute: int = Field(default=10, ge=1, le=10000)
    on_breach: OnBreach = Field(default_factory=OnBreach)
    auto_resume_after_seconds: int = Field(default=60, ge=0, le=86400)


class ExternalMarket(_Strict):
    venue: str
    symbol: str

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, v: str) -> str:
        if not SYMBOL_RE.match(v):
            raise ValueError("must look like BASE/QUOTE in capitals, e.g. USHARK/USDT")
        return v


class PricingConfig(_Strict):
    source: PriceSource = PriceSource.MID
    risk_reference: PriceSource = PriceSource.MID
    external: ExternalMarket | None = None
    max_age_seconds: Annotated[Decimal, Field(gt=0, le=3600)] = Decimal(10)

    @model_validator(mode="after")
    def _cross(self) -> Self:
        wants_ext = PriceSource.EXTERNAL in (self.source, self.risk_reference)
        if wants_ext and self.external is None:
            raise _field_error("external", "is required when source or risk_reference is external")
        return self


# Keys of notifications.telegram.levels: agent.notify.messages.NotifyKind (which imports this
# module, so the names are repeated here; tests/test_telegram_wiring.py keeps them equal).
TELEGRAM_KINDS = ("state", "risk", "error", "fill", "volume", "daily_report")


class TelegramConfig(_Strict):
    enabled: bool = False
    chat_ids: list[int] = Field(default_factory=list)
    levels: dict[str, NotifyLevel] = Field(default_factory=dict)
    fill_digest_seconds: int = Field(default=60, ge=1, le=86400)
    daily_report_utc: str = "00:05"
    api_base_url: str = "https://api.telegram.org"

    @field_validator("daily_report_utc")
    @classmethod
    def _report_time(cls, v: str) -> str:
        if not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", v):
            raise ValueError("must be HH:MM (UTC)")
        return v

    @field_validator("levels")
    @classmethod
    def _level_kinds(cls, v: dict[str, NotifyLevel]) -> dict[str, NotifyLevel]:
        unknown = sorted(k for k in v if k not in TELEGRAM_KINDS)
        if unknown:
            raise ValueError(f"unknown kind {unknown[0]!r}; one of {', '.join(TELEGRAM_KINDS)}")
        return v

    @field_validator("api_base_url")
    @classmethod
    def _api_base_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v

    @model_validator(mode="after")
    def _cross(self) -> Self:
        if self.enabled and not self.chat_ids:
            raise _field_error("chat_ids", "needs at least one chat id when enabled")
        return self


class NotificationsConfig(_Strict):
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)


class BotConfig(_Strict):
    bot: BotSection
    market_making: MarketMakingConfig = Field(default_factory=MarketMakingConfig)
    volume: VolumeConfig = Field(default_factory=VolumeConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    pricing: PricingConfig = Field(default_factory=PricingConfig)
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)

    def dump(self) -> dict[str, Any]:
        """Plain JSON/YAML-able dict (Decimals as strings, so nothing is rounded)."""
        return self.model_dump(mode="json")


class _FieldError(ValueError):
    """Raised from model validators to point at one field of the model."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


def _field_error(field: str, rule: str) -> _FieldError:
    return _FieldError(field, rule)


class ConfigError(Exception):
    """A configuration that must not run. `errors` are 'field.path: rule' lines."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


_BOUND_RULES = {
    "greater_than": (">", "gt"),
    "greater_than_equal": (">=", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("<=", "le"),
}


def format_validation_error(exc: ValidationError) -> list[str]:
    """Turn pydantic's errors into 'field.path: rule' lines a tired operator can act on."""
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        msg = err["msg"]
        ctx_err = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_err, _FieldError):
            loc.append(ctx_err.field)
            msg = ctx_err.rule
        elif err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "missing":
            msg = "is required"
        elif msg.startswith("Value error, "):
            msg = msg.removeprefix("Value error, ")
        elif err["type"] in _BOUND_RULES:
            ctx = err.get("ctx") or {}
            op, key = _BOUND_RULES[err["type"]]
            msg = f"must be {op} {ctx.get(key)}"
        elif err["type"] == "enum":
            expected = (err.get("ctx") or {}).get("expected", "")
            msg = f"must be one of {expected}"
        lines.append(f"{'.'.join(loc) or '(top level)'}: {msg}")
    return lines


def _decimalize(node: Any) -> Any:
    """YAML floats -> Decimal via their text, so 0.1 stays exactly 0.1."""
    if isinstance(node, float):
        return Decimal(repr(node))
    if isinstance(node, dict):
        return {k: _decimalize(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_decimalize(v) for v in node]
    return node


def parse_config(data: Any) -> BotConfig:
    if not isinstance(data, dict):
        raise ConfigError(["(top level): must be a mapping with a 'bot' block"])
    try:
        return BotConfig.model_validate(_decimalize(data))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None


def parse_config_text(text: str) -> BotConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"(yaml): {exc}".replace("\n", " ")]) from None
    return parse_config(data)


def load_config(path: str | Path) -> BotConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"(file): cannot read {p}: {exc.strerror}"]) from None
    return parse_config_text(text)
