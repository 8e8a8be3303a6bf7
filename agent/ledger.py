"""The bot's own ledger: inventory, fees, volume and PnL, updated from fills the moment they
are seen (so partial fills move inventory immediately, independent of balance pushes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from agent.model import ZERO, Balance, Fill, Inventory, Liquidity, Side


@dataclass(slots=True)
class Ledger:
    base_asset: str
    quote_asset: str
    base: Decimal = ZERO
    quote: Decimal = ZERO
    base_start: Decimal = ZERO
    quote_start: Decimal = ZERO
    day_base_start: Decimal = ZERO
    day_quote_start: Decimal = ZERO
    fills: int = 0
    volume_quote: Decimal = ZERO
    maker_volume_quote: Decimal = ZERO
    taker_volume_quote: Decimal = ZERO
    fees_quote: Decimal = ZERO
    bought_base: Decimal = ZERO
    sold_base: Decimal = ZERO
    other: dict[str, Decimal] = field(default_factory=dict)

    def reset_from(self, balances: dict[str, Balance]) -> None:
        self.base = balances[self.base_asset].total if self.base_asset in balances else ZERO
        self.quote = balances[self.quote_asset].total if self.quote_asset in balances else ZERO
        self.base_start = self.day_base_start = self.base
        self.quote_start = self.day_quote_start = self.quote

    def apply(self, fill: Fill) -> None:
        notional = fill.price * fill.amount
        if fill.side is Side.BUY:
            self.base += fill.amount
            self.quote -= notional
            self.bought_base += fill.amount
        else:
            self.base -= fill.amount
            self.quote += notional
            self.sold_base += fill.amount
        if fill.fee_asset == self.base_asset:
            self.base -= fill.fee
            self.fees_quote += fill.fee * fill.price
        elif fill.fee_asset == self.quote_asset:
            self.quote -= fill.fee
            self.fees_quote += fill.fee
        elif fill.fee:
            self.other[fill.fee_asset] = self.other.get(fill.fee_asset, ZERO) - fill.fee
        self.fills += 1
        self.volume_quote += notional
        if fill.liquidity is Liquidity.MAKER:
            self.maker_volume_quote += notional
        else:
            self.taker_volume_quote += notional

    def inventory(self, locked_quote: Decimal, locked_base: Decimal) -> Inventory:
        return Inventory(
            base=self.base, quote=self.quote, base_locked=locked_base, quote_locked=locked_quote
        )

    def pnl(self, mid: Decimal) -> Decimal:
        """Trading PnL marked to `mid`: today's holdings minus the starting holdings, both valued
        at the current mid. Fees are inside (they reduced the holdings); the revaluation of the
        inventory the bot started with is not (that is the owner's price exposure, not trading).
        """
        return (self.base - self.base_start) * mid + (self.quote - self.quote_start)

    def pnl_day(self, mid: Decimal) -> Decimal:
        """Like pnl(), since the start of the UTC day (the risk engine's daily loss)."""
        return (self.base - self.day_base_start) * mid + (self.quote - self.day_quote_start)

    def new_day(self) -> None:
        self.day_base_start = self.base
        self.day_quote_start = self.quote
