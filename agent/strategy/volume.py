"""The volume program's pure parts: when to trade, how much, and which order to send.

Volume only ever comes from trades with other participants. Every order this module proposes
is checked against the bot's own resting orders with `agent.self_trade` (the same guard the
order manager applies again before sending); there is no parameter that turns this off. Taker
orders exist only in MIXED mode, only on the side that brings inventory back toward its target,
and only against book levels that hold other participants' size. See docs/volume.md.

Timing is a Poisson process inside the active UTC windows whose rate is re-paced after every
event so that what is left of the day's target is reachable in what is left of the day's active
time. Randomness comes from the `random.Random` the caller passes in: seeded in tests, from the
system in production.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from agent.config import ExecutionMode, VolumeConfig
from agent.model import ZERO, Inventory, MarketRules, OrderBook, OrderRequest, Side, TimeInForce
from agent.orders import TERMINAL, TrackedOrder
from agent.risk.rules import SECONDS_PER_DAY, utc_day
from agent.self_trade import crossing_limit, would_self_match

DAY = float(SECONDS_PER_DAY)
MIN_GAP_SECONDS = 1.0  # never two trade events closer than this (active time)
TAKER_PROBABILITY = 0.5  # MIXED: share of events that try a taker order first
# MIXED: take only when the base share is this far from the target (a fraction of 1), and
# close at most this share of the gap per order, so other fills arriving while the order
# travels cannot turn the correction into an overshoot.
TAKER_MIN_DEVIATION = Decimal("0.005")
TAKER_GAP_SHARE = Decimal("0.5")
_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)


# ---------------------------------------------------------------------- windows
def _seconds(t: time) -> float:
    return float(t.hour * 3600 + t.minute * 60 + t.second)


class ActiveWindows:
    """The UTC windows in which the program may trade, as merged [start, end) second spans of
    a day. All answers are about the UTC day that contains `now`."""

    __slots__ = ("spans", "total")

    def __init__(self, windows: Iterable[tuple[time, time | None]]) -> None:
        spans = sorted((_seconds(s), DAY if e is None else _seconds(e)) for s, e in windows)
        merged: list[tuple[float, float]] = []
        for s, e in spans:
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        if not merged:
            raise ValueError("at least one active window is needed")
        self.spans: tuple[tuple[float, float], ...] = tuple(merged)
        self.total = sum(e - s for s, e in merged)  # active seconds per day

    @classmethod
    def from_config(cls, cfg: VolumeConfig) -> ActiveWindows:
        return cls(cfg.windows())

    @staticmethod
    def _split(now: float) -> tuple[float, float]:
        day0 = utc_day(now) * DAY
        return day0, now - day0

    def is_active(self, now: float) -> bool:
        _, t = self._split(now)
        return any(s <= t < e for s, e in self.spans)

    def seconds_left_today(self, now: float) -> float:
        """Active seconds between `now` and the end of its UTC day."""
        _, t = self._split(now)
        return sum(max(0.0, e - max(s, t)) for s, e in self.spans)

    def seconds_elapsed_today(self, now: float) -> float:
        """Active seconds between 00:00 UTC and `now`."""
        return self.total - self.seconds_left_today(now)

    def next_window_at(self, now: float) -> float:
        """`now` when inside a window, else the start of the next one (possibly tomorrow)."""
        day0, t = self._split(now)
        for s, e in self.spans:
            if s <= t < e:
                return now
            if s > t:
                return day0 + s
        return day0 + DAY + self.spans[0][0]

    def next_day_start(self, now: float) -> float:
        """Start of the first window of the next UTC day: when to ask again after a day ends."""
        day0, _ = self._split(now)
        return day0 + DAY + self.spans[0][0]

    def advance(self, now: float, active_seconds: float) -> float | None:
        """The time at which `active_seconds` of active time have passed after `now`, skipping
        inactive stretches; None when that is beyond today's last window."""
        day0, t = self._split(now)
        left = active_seconds
        for s, e in self.spans:
            if e <= t:
                continue
            start = max(s, t)
            avail = e - start
            if left < avail:
                return day0 + start + left
            left -= avail
        return None


# ---------------------------------------------------------------------- scheduler
@dataclass(frozen=True, slots=True)
class VolumeProgress:
    """The program's part of the bot state."""

    target: Decimal
    done: Decimal
    expected: Decimal  # what an even pace over today's active time would have done by now
    pace_pct: Decimal  # done / expected * 100 (100 while nothing is expected yet)
    ahead: bool
    active: bool
    next_window_at: float  # now when active, else the next window's start
    disabled_reason: str  # "" while the program may trade today
    pnl: Decimal
    fills: int

    def fields(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "done": self.done,
            "expected": self.expected,
            "pace_pct": self.pace_pct,
            "pace": "ahead" if self.ahead else "behind",
            "active": self.active,
            "next_window_at": self.next_window_at,
            "disabled_reason": self.disabled_reason,
            "pnl": self.pnl,
            "fills": self.fills,
        }


class VolumeScheduler:
    """Pacing, sizes and the program's daily caps. The scheduler owns today's counters; the
    caller reports the program's own fills with `record_fill` (grid fills do not count) and
    the current mid with `mark`, which values the program's position for the loss cap.

    Every method taking `now` first rolls the UTC day over when needed, so counters and the
    daily kill switch reset at 00:00 UTC even if the caller never calls `roll_day` itself.
    After a restart, replay today's program fills (and a journalled `disable`) to continue
    the day: a restart must neither exceed the hard cap nor undo the kill switch.
    """

    def __init__(self, cfg: VolumeConfig, rng: random.Random) -> None:
        self.cfg = cfg
        self.rng = rng
        self.windows = ActiveWindows.from_config(cfg)
        self.mean_size = (cfg.trade_min + cfg.trade_max) / 2
        self._size_cents = int((cfg.trade_max - cfg.trade_min) / _CENT)
        self.day: int | None = None
        self.done = ZERO  # quote notional filled today
        self.cash = ZERO  # quote in minus quote out today, fees included
        self.position = ZERO  # base bought minus base sold today
        self.last_mark: Decimal | None = None
        self.fills = 0
        self.disabled_reason = "" if cfg.enabled else "disabled in config"
        self.disabled_at: float | None = None

    # ------------------------------------------------------------------ day
    def roll_day(self, now: float) -> bool:
        """Start a new UTC day when `now` is in one. True on a real rollover (not on the very
        first call), so the caller can emit a 'new day' event. The position carried over is
        not today's business: today's PnL starts at zero."""
        day = utc_day(now)
        if day == self.day:
            return False
        first = self.day is None
        self.day = day
        self.done = ZERO
        self.cash = ZERO
        self.position = ZERO
        self.fills = 0
        self.disabled_reason = "" if self.cfg.enabled else "disabled in config"
        self.disabled_at = None
        return not first

    # ------------------------------------------------------------------ pacing
    def next_event_at(self, now: float) -> float | None:
        """When the next trade event should happen, or None when there is none today (disabled,
        target reached, or no active time left; ask again at `windows.next_day_start(now)`).

        The gap is exponential in active time with rate remaining / (mean size * active seconds
        left): the expected remaining events exactly cover the remaining target, and the rate
        re-adapts after every event, so a slow morning is made up in the afternoon."""
        self.roll_day(now)
        if self.disabled_reason:
            return None
        remaining = self.cfg.daily_notional - self.done
        if remaining <= 0:
            return None
        left = self.windows.seconds_left_today(now)
        if left <= 0:
            return None
        rate = float(remaining) / (float(self.mean_size) * left)
        gap = max(MIN_GAP_SECONDS, self.rng.expovariate(rate))
        return self.windows.advance(now, gap)

    def headroom(self, in_flight: Decimal = ZERO) -> Decimal:
        """Quote the hard cap still allows, counting the program's resting orders as if they
        were about to fill."""
        return self.cfg.max_daily_notional - self.done - in_flight

    def draw_size(self, in_flight: Decimal = ZERO) -> Decimal | None:
        """A uniform random size in [trade_min, trade_max] (cent steps), cut to the hard cap's
        headroom; None when not even trade_min fits under the cap."""
        size = self.cfg.trade_min + Decimal(self.rng.randint(0, self._size_cents)) * _CENT
        room = self.headroom(in_flight)
        if size > room:
            size = room.quantize(_CENT, ROUND_DOWN)
        if size < self.cfg.trade_min:
            return None
        return size

    def draw_lifetime(self) -> float:
        """Seconds a maker order of one event rests before it is cancelled."""
        lo = float(self.cfg.order_lifetime_min_seconds)
        hi = float(self.cfg.order_lifetime_max_seconds)
        return self.rng.uniform(lo, hi)

    # ------------------------------------------------------------------ caps
    @property
    def pnl(self) -> Decimal:
        """Today's PnL of the program's own trades, fees included, its position marked at the
        last mark (or the last fill price before any mark)."""
        if self.last_mark is None or not self.position:
            return self.cash
        return self.cash + self.position * self.last_mark

    def record_fill(
        self, side: Side, price: Decimal, amount: Decimal, fee_quote: Decimal, now: float
    ) -> str | None:
        """Count one fill of the program (`fee_quote`: its fee valued in quote). Returns the
        reason when this fill disabled the program for the rest of the UTC day (emit an
        event), else None."""
        self.roll_day(now)
        notional = price * amount
        self.done += notional
        if side is Side.BUY:
            self.position += amount
            self.cash -= notional
        else:
            self.position -= amount
            self.cash += notional
        self.cash -= fee_quote
        if self.last_mark is None:
            self.last_mark = price
        self.fills += 1
        return self._check_caps(now)

    def mark(self, price: Decimal, now: float) -> str | None:
        """Revalue the program's position at `price` (the mid). Returns the reason when the
        loss cap disabled the program, else None."""
        self.roll_day(now)
        self.last_mark = price
        return self._check_caps(now)

    def _check_caps(self, now: float) -> str | None:
        cfg = self.cfg
        if self.done >= cfg.max_daily_notional:
            why = f"max_daily_notional reached: {self.done} >= {cfg.max_daily_notional}"
            return why if self.disable(why, now) else None
        loss = -self.pnl
        if loss > cfg.max_daily_loss:
            why = f"max_daily_loss hit: lost {loss} > {cfg.max_daily_loss}"
            return why if self.disable(why, now) else None
        return None

    def disable(self, reason: str, now: float) -> bool:
        """Stop the program until the next UTC day (a cap, a risk breach, the operator).
        True when it was enabled until now."""
        self.roll_day(now)
        if self.disabled_reason:
            return False
        self.disabled_reason = reason
        self.disabled_at = now
        return True

    # ------------------------------------------------------------------ state
    def progress(self, now: float) -> VolumeProgress:
        self.roll_day(now)
        target = self.cfg.daily_notional
        share = self.windows.seconds_elapsed_today(now) / self.windows.total
        expected = (target * Decimal(repr(share))).quantize(_CENT, ROUND_HALF_UP)
        if expected > 0:
            pace = (self.done / expected * _HUNDRED).quantize(Decimal("0.1"), ROUND_HALF_UP)
        else:
            pace = _HUNDRED
        return VolumeProgress(
            target=target,
            done=self.done,
            expected=expected,
            pace_pct=pace,
            ahead=self.done >= expected,
            active=self.windows.is_active(now),
            next_window_at=self.windows.next_window_at(now),
            disabled_reason=self.disabled_reason,
            pnl=self.pnl,
            fills=self.fills,
        )


# ---------------------------------------------------------------------- one event
@dataclass(frozen=True, slots=True)
class VolumePlan:
    """The one order a trade event sends."""

    side: Side
    price: Decimal
    amount: Decimal
    tif: TimeInForce
    reason: str

    @property
    def taker(self) -> bool:
        return self.tif is TimeInForce.IOC

    @property
    def notional(self) -> Decimal:
        return self.price * self.amount

    def request(self, client_order_id: str, symbol: str) -> OrderRequest:
        return OrderRequest(client_order_id, symbol, self.side, self.price, self.amount, self.tif)


@dataclass(frozen=True, slots=True)
class Skip:
    """No order for this event, and why."""

    reason: str


def reducing_side(share: Decimal, target: Decimal) -> Side | None:
    """The side whose fills bring the base share back toward the target (None when on it)."""
    if share < target:
        return Side.BUY
    if share > target:
        return Side.SELL
    return None


def plan_event(
    size_quote: Decimal,
    book: OrderBook,
    inventory: Inventory,
    own_orders: Iterable[TrackedOrder],
    rules: MarketRules,
    target_base_pct: Decimal,
    mode: ExecutionMode,
    rng: random.Random,
    *,
    taker_probability: float = TAKER_PROBABILITY,
    mark: Decimal | None = None,
) -> VolumePlan | Skip:
    """Choose the order of one trade event of about `size_quote` quote.

    MAKER_FIRST: post-only, one tick inside the spread when there is room, else at the touch,
    never touching the opposite best; the side is random, weighted toward the side that moves
    inventory toward the target. MIXED: some events first try an IOC taker order on the
    inventory-reducing side against foreign size at the opposite best level; when that is not
    possible they fall back to a maker order. Either way an order that could reach one of the
    bot's own orders on the other side is never proposed.

    `mark` values the inventory (pass the mid without own orders); default: the book's mid.
    """
    if size_quote <= 0:
        return Skip("size must be positive")
    own = [o for o in own_orders if o.state not in TERMINAL]
    bid, ask = book.best_bid, book.best_ask
    if bid is None and ask is None:
        return Skip("empty book")
    if bid is not None and ask is not None and bid >= ask:
        return Skip(f"crossed book: bid {bid} >= ask {ask}")
    if mark is None:
        mark = book.mid
    if mark is None:
        mark = bid if bid is not None else ask
    assert mark is not None
    share = inventory.base_share(mark)
    target = target_base_pct / _HUNDRED
    why: list[str] = []

    reduce = reducing_side(share, target)
    if mode is ExecutionMode.MIXED and reduce is not None and rng.random() < taker_probability:
        taken = _plan_taker(reduce, size_quote, book, inventory, own, rules, share, target, mark)
        if isinstance(taken, VolumePlan):
            return taken
        why.append(taken.reason)

    # Weighted coin: 50/50 on target, up to 90/10 toward the side that reduces the imbalance.
    p_buy = min(0.9, max(0.1, 0.5 + 2 * float(target - share)))
    first = Side.BUY if rng.random() < p_buy else Side.SELL
    for side in (first, first.opposite):
        made = _plan_maker(side, size_quote, book, inventory, own, rules)
        if isinstance(made, VolumePlan):
            return made
        why.append(made.reason)
    return Skip("; ".join(why))


def _plan_maker(
    side: Side,
    size_quote: Decimal,
    book: OrderBook,
    inv: Inventory,
    own: list[TrackedOrder],
    rules: MarketRules,
) -> VolumePlan | Skip:
    tick = rules.tick_size
    bid, ask = book.best_bid, book.best_ask
    if side is Side.BUY:
        if bid is None:
            return Skip("buy: no bid to join")
        inside = ask is None or bid + tick < ask
        price = rules.floor_price(bid + tick if inside else bid)
        if ask is not None and price >= ask:
            return Skip(f"buy: {price} would touch the best ask {ask}")
    else:
        if ask is None:
            return Skip("sell: no ask to join")
        inside = bid is None or ask - tick > bid
        price = rules.ceil_price(ask - tick if inside else ask)
        if bid is not None and price <= bid:
            return Skip(f"sell: {price} would touch the best bid {bid}")
    if price <= 0:
        return Skip(f"{side.value}: no valid price")
    if would_self_match(side, price, own):
        return Skip(
            f"{side.value} @ {price} would reach own {side.opposite.value} order "
            f"@ {crossing_limit(side, own)}"
        )
    amount = rules.floor_amount(size_quote / price)
    funded = _funded(side, price, amount, inv, rules.maker_fee)
    if funded is not None:
        return Skip(funded)
    if not rules.fits(price, amount):
        return Skip(f"{side.value}: {amount} @ {price} is below the venue minimums")
    where = "one tick inside the spread" if inside else "at the touch"
    return VolumePlan(side, price, amount, TimeInForce.POST_ONLY, f"maker {side.value} {where}")


def _plan_taker(
    side: Side,
    size_quote: Decimal,
    book: OrderBook,
    inv: Inventory,
    own: list[TrackedOrder],
    rules: MarketRules,
    share: Decimal,
    target: Decimal,
    mark: Decimal,
) -> VolumePlan | Skip:
    """IOC at the opposite best level only, and only for size that other participants hold
    there; never beyond the inventory target (taking must reduce the imbalance, not flip it)."""
    levels = book.asks if side is Side.BUY else book.bids
    if not levels:
        return Skip(f"taker {side.value}: nothing to take")
    level = levels[0]
    price = level.price
    if would_self_match(side, price, own):
        return Skip(f"taker {side.value} @ {price} would reach an own order")
    # Our size at this level: zero whenever the guard above passed; kept so the size rule
    # ("only what others hold there") stands on its own.
    other = side.opposite
    own_there = sum((o.remaining for o in own if o.side is other and o.price == price), ZERO)
    foreign = level.amount - own_there
    # Size at most the imbalance, valued so that price, mark and fee can never push the share
    # past the target (dividing by the larger of price and mark, fee included, is enough).
    fee = max(rules.taker_fee, ZERO)
    if abs(share - target) < TAKER_MIN_DEVIATION:
        return Skip(f"taker {side.value}: inventory within {TAKER_MIN_DEVIATION:%} of target")
    gap_quote = abs(share - target) * (inv.base * mark + inv.quote) * TAKER_GAP_SHARE
    amount = rules.floor_amount(min(size_quote / price, gap_quote / (max(price, mark) * (1 + fee))))
    amount = min(amount, rules.floor_amount(foreign))
    if amount <= 0 or not rules.fits(price, amount):
        return Skip(f"taker {side.value}: too little foreign size or imbalance at {price}")
    funded = _funded(side, price, amount, inv, rules.taker_fee)
    if funded is not None:
        return Skip(funded)
    reason = (
        f"taker {side.value} toward inventory target: base share "
        f"{(share * _HUNDRED).quantize(_CENT)}% vs {(target * _HUNDRED).quantize(_CENT)}%"
    )
    return VolumePlan(side, price, amount, TimeInForce.IOC, reason)


def _funded(
    side: Side, price: Decimal, amount: Decimal, inv: Inventory, fee: Decimal
) -> str | None:
    """Why the account cannot pay for the order (free funds only), or None."""
    if side is Side.BUY:
        free = inv.quote - inv.quote_locked
        cost = price * amount * (1 + max(fee, ZERO))
        if cost > free:
            return f"buy: needs {cost} quote, {free} free"
    else:
        free = inv.base - inv.base_locked
        if amount > free:
            return f"sell: needs {amount} base, {free} free"
    return None
