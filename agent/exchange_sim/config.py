"""Emulator settings: markets (from a simulator scenario), accounts, and protocol options.

Parsed from the `mmbot exchange-sim` flags or built directly by tests; kept apart from the
server so the exchange core can be created without aiohttp.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from agent.venues.sim.scenarios import MarketSpec, Scenario


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """One API key of the emulator. The secret never appears in a repr or a log line."""

    key: str
    secret: str = field(repr=False)
    balances: dict[str, Decimal] = field(default_factory=dict)
    uid: int = 0  # 0: derived from the key
    stp_id: int = 0  # non-zero: the account is in that STP group

    @property
    def user_id(self) -> int:
        if self.uid:
            return self.uid
        return 10_000_000 + int(hashlib.sha256(self.key.encode()).hexdigest()[:6], 16)


@dataclass(slots=True)
class EmulatorConfig:
    """Everything the emulator needs besides the clock."""

    scenario: Scenario
    seed: int = 0
    accounts: list[AccountSpec] = field(default_factory=list)
    extra_markets: list[MarketSpec] = field(default_factory=list)
    """Markets listed and tradable but without synthetic flow (e.g. for ccxt's fixtures)."""
    synthetic_flow: bool = True
    poc_reject_with_label: bool = False
    """False: a post-only order that would take is answered 201 with `finish_as: poc` (what
    Gate does today); True: 400 `POC_FILL_IMMEDIATELY`."""
    enforce_rate_limits: bool = True
    timestamp_window_seconds: float = 60.0
    book_interval_ms: float | None = None  # default: the scenario's book_publish_ms
    ban_after_429: int = 200
    """429 answers to one UID within `ban_window_seconds` after which that UID is banned
    (403 IP_FORBIDDEN) for `ban_seconds`: the penalty a client that ignores 429s earns."""
    ban_window_seconds: float = 10.0
    ban_seconds: float = 60.0
    admin_api: bool = True

    @property
    def markets(self) -> list[MarketSpec]:
        return [self.scenario.market, *self.extra_markets]


def parse_balances(text: str) -> dict[str, Decimal]:
    """`USDT=10000,USHARK=2000000` -> {'USDT': Decimal('10000'), ...}."""
    out: dict[str, Decimal] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        asset, sep, amount = part.partition("=")
        if not sep or not asset.strip().isalnum():
            raise ValueError(f"balance {part!r} must look like ASSET=AMOUNT")
        try:
            value = Decimal(amount.strip())
        except InvalidOperation:
            raise ValueError(f"balance {part!r}: {amount!r} is not a number") from None
        if not value.is_finite() or value < 0:
            raise ValueError(f"balance {part!r} must be a finite number >= 0")
        out[asset.strip().upper()] = value
    return out


def parse_account(text: str, balances: dict[str, Decimal]) -> AccountSpec:
    """`KEY:SECRET` -> AccountSpec."""
    key, sep, secret = text.partition(":")
    if not sep or not key or not secret:
        raise ValueError("--account must look like KEY:SECRET")
    return AccountSpec(key=key, secret=secret, balances=dict(balances))
