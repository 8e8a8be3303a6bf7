"""The risk engine: pre-trade veto/clip on every order, continuous rules on every event.

Pure computation: the bot feeds it observations (`on_book`, `on_api_error`, ...) with their
timestamps and asks `check(now)` on its tick; the engine never reads a clock, never does I/O and
never acts by itself. Breaches are returned as data; pausing, stopping and cancelling are the
bot's job. See docs/risk.md for the rules, formulas and the breach/resume cycle.
"""

from __future__ import annotations

from collections import Counter, deque
from decimal import Decimal
from typing import Any

from agent.config import BreachAction, RiskConfig
from agent.model import ZERO, MarketRules, OrderRequest, Side, TimeInForce
from agent.risk.rules import (
    Breach,
    Decision,
    Measure,
    PreTradeContext,
    RiskRule,
    RuleStatus,
    SlidingCount,
    pct,
    seconds,
    state_lower,
    state_upper,
    utc_day,
)

R = RiskRule
MOVE_WINDOW_SECONDS = 60.0  # price_move compares the own mid with the mid this long ago
COUNT_WINDOW_SECONDS = 60.0  # api_errors / rejects are counted per sliding minute
_HUNDRED = Decimal(100)
_BUY = Side.BUY  # enum members as constants: a class attribute lookup is slow in Python 3.11
_POST_ONLY = TimeInForce.POST_ONLY

# (rule, measured value or None, limit, action, breached now)
_Measured = tuple[RiskRule, Measure | None, Measure, BreachAction, bool]


class RiskEngine:
    """Risk state of one bot on one market. Not thread-safe; call from the bot's loop."""

    def __init__(self, cfg: RiskConfig, rules: MarketRules) -> None:
        self.cfg = cfg
        self.rules = rules
        # Hot-path constants, computed once.
        self._band = cfg.max_price_deviation_pct / _HUNDRED
        self._stale = float(cfg.stale_data_seconds)
        self._buy_cost_post = 1 + max(rules.maker_fee, ZERO)
        self._buy_cost_take = 1 + max(rules.taker_fee, ZERO)
        ob = cfg.on_breach
        self._action = {
            R.PRICE_DEVIATION: ob.price_deviation,
            R.PRICE_MOVE: ob.price_deviation,
            R.STALE_DATA: ob.stale_data,
            R.API_ERRORS: ob.api_errors,
            R.REJECTS: ob.rejects,
            R.DAILY_LOSS: ob.daily_loss,
            R.OPEN_ORDERS: BreachAction.PAUSE,
        }
        # Observations.
        self.mid: Decimal | None = None
        self.book_at: float | None = None
        self.reference: Decimal | None = None
        self.reference_at: float | None = None
        self._fresh_at: float | None = None  # oldest of book_at / reference_at (if tracked)
        self._mids: deque[tuple[float, Decimal]] = deque()
        self._api_errors = SlidingCount(COUNT_WINDOW_SECONDS)
        self._rejects = SlidingCount(COUNT_WINDOW_SECONDS)
        self.daily_pnl: Decimal = ZERO
        self.open_orders = 0
        self.quote_total: Decimal | None = None
        self.quote_locked: Decimal = ZERO
        # Day bookkeeping.
        self.day: int | None = None
        self.api_errors_today = 0
        self.rejects_today = 0
        self.vetoes_today: Counter[str] = Counter()
        # Breach bookkeeping.
        self._active: dict[RiskRule, Breach] = {}  # breached as of the last check()
        self._latched: list[Breach] = []  # every breach since the last resume()
        self.last_breach_at: float | None = None
        self.last_clear_at: float | None = None

    # ------------------------------------------------------------------ pre-trade
    def pre_trade(self, req: OrderRequest, ctx: PreTradeContext) -> Decision:
        """Veto or clip one order. Cheap: a handful of Decimal operations, no scans."""
        decision = self._pre_trade(req, ctx)
        return Decision(True, req.amount) if decision is None else decision

    def check_order(
        self, req: OrderRequest, ctx: PreTradeContext
    ) -> tuple[OrderRequest | None, str]:
        """`pre_trade(req, ctx).apply(req)` and the decision's reason: the order manager's
        hook. Same rules; an order that passes untouched costs no Decision object."""
        decision = self._pre_trade(req, ctx)
        if decision is None:
            return req, ""
        return decision.apply(req), decision.reason

    def _pre_trade(self, req: OrderRequest, ctx: PreTradeContext) -> Decision | None:
        """Every pre-trade rule, in order: a veto or a clip, or None when the order passes
        untouched."""
        price = req.price
        amount = req.amount
        if self._latched:
            b = self._latched[-1]
            return self._veto(R.HALTED, amount, f"trading halted by a {b.rule.value} breach")
        fresh_at = self._fresh_at
        if fresh_at is None:
            return self._veto(R.STALE_DATA, amount, "no market data yet")
        if ctx.now - fresh_at > self._stale:
            return self._veto(
                R.STALE_DATA,
                amount,
                f"market data {ctx.now - fresh_at:.1f}s old > {self.cfg.stale_data_seconds}s",
            )
        if ctx.open_orders >= self.cfg.max_open_orders:
            return self._veto(
                R.OPEN_ORDERS,
                amount,
                f"{ctx.open_orders} open orders, cap {self.cfg.max_open_orders}",
            )
        if not self.rules.fits(price, amount):
            return self._veto(
                R.MARKET_RULES, amount, f"{amount} @ {price} off the tick/lot grid or too small"
            )
        buy = req.side is _BUY
        post_only = req.tif is _POST_ONLY
        if post_only:
            if buy and ctx.best_ask is not None and price >= ctx.best_ask:
                return self._veto(
                    R.POST_ONLY, amount, f"post-only buy @ {price} reaches best ask {ctx.best_ask}"
                )
            if not buy and ctx.best_bid is not None and price <= ctx.best_bid:
                return self._veto(
                    R.POST_ONLY, amount, f"post-only sell @ {price} reaches best bid {ctx.best_bid}"
                )
        ref = ctx.reference if ctx.reference is not None else self._fresh_reference(ctx.now)
        if ref is not None and abs(price - ref) > ref * self._band:
            return self._veto(
                R.PRICE_BAND,
                amount,
                f"price {price} is {pct(abs(price - ref) / ref * _HUNDRED)}% from reference "
                f"{ref}, max {self.cfg.max_price_deviation_pct}%",
            )
        if buy:
            unit = price * (self._buy_cost_post if post_only else self._buy_cost_take)
            spendable = ctx.quote_total - ctx.quote_locked - self.cfg.min_quote_balance
            if unit * amount > spendable:
                floor = self.cfg.min_quote_balance
                if spendable <= 0:
                    return self._veto(
                        R.MIN_QUOTE_BALANCE,
                        amount,
                        f"free quote {ctx.quote_free} leaves nothing above the minimum {floor}",
                    )
                clipped = self.rules.floor_amount(spendable / unit)
                if clipped <= 0 or not self.rules.fits(price, clipped):
                    return self._veto(
                        R.MIN_QUOTE_BALANCE,
                        amount,
                        f"free quote {ctx.quote_free} minus minimum {floor} cannot fund a "
                        f"venue-sized order @ {price}",
                    )
                return Decision(
                    True,
                    clipped,
                    R.MIN_QUOTE_BALANCE.value,
                    f"clipped {amount} -> {clipped} to keep free quote >= {floor}",
                )
        return None

    def _veto(self, rule: RiskRule, amount: Decimal, reason: str) -> Decision:
        self.vetoes_today[rule.value] += 1
        return Decision(False, amount, rule.value, reason)

    def _fresh_reference(self, now: float) -> Decimal | None:
        at = self.reference_at
        if at is None or now - at > self._stale:
            return None
        return self.reference

    # ------------------------------------------------------------------ observations
    def on_book(self, mid: Decimal | None, at: float) -> None:
        """A fresh book of the bot's market (`at`: when it was received). A one-sided book
        (mid None) still counts as fresh data."""
        if self.book_at is None or at > self.book_at:
            self.book_at = at
            self._update_fresh()
        mids = self._mids
        if mid is None or (mids and at < mids[-1][0]):
            return  # one-sided, or a late book: keeps the mid history in time order
        self.mid = mid
        mids.append((at, mid))
        self._prune_mids(at)

    def on_reference(self, price: Decimal, at: float) -> None:
        """The risk reference price (`at`: its freshness time). Once fed, a reference that
        stops updating makes the data stale just like a silent book."""
        if self.reference_at is None or at >= self.reference_at:
            self.reference = price
            self.reference_at = at
            self._update_fresh()

    def on_api_error(self, at: float) -> None:
        self._api_errors.add(at)
        self.api_errors_today += 1

    def on_reject(self, at: float) -> None:
        self._rejects.add(at)
        self.rejects_today += 1

    def on_pnl(self, daily_pnl: Decimal, at: float) -> None:
        """Mark-to-market PnL since 00:00 UTC, fees included (negative is a loss)."""
        self.daily_pnl = daily_pnl

    def on_open_orders(self, count: int, at: float) -> None:
        """Own non-terminal orders (pending creates included)."""
        self.open_orders = count

    def on_balance(self, quote_total: Decimal, quote_locked: Decimal, at: float) -> None:
        """Quote holdings, for the min_quote_balance line of the status."""
        self.quote_total = quote_total
        self.quote_locked = quote_locked

    def _update_fresh(self) -> None:
        b, r = self.book_at, self.reference_at
        self._fresh_at = b if r is None else (r if b is None else min(b, r))

    def _prune_mids(self, now: float) -> None:
        """Keep one sample at or before now - 60 s (the comparison point) and all newer ones."""
        mids = self._mids
        cutoff = now - MOVE_WINDOW_SECONDS
        while len(mids) >= 2 and mids[1][0] <= cutoff:
            mids.popleft()

    # ------------------------------------------------------------------ continuous rules
    def _measure(self, now: float) -> list[_Measured]:
        cfg = self.cfg
        max_pct = cfg.max_price_deviation_pct
        act = self._action
        out: list[_Measured] = []

        dev: Decimal | None = None
        ref = self._fresh_reference(now)
        if self.mid is not None and ref is not None and ref > 0:
            dev = pct(abs(self.mid - ref) / ref * _HUNDRED)
        out.append((R.PRICE_DEVIATION, dev, max_pct, act[R.PRICE_DEVIATION], _gt(dev, max_pct)))

        move: Decimal | None = None
        self._prune_mids(now)
        if self.mid is not None and self._mids:
            then = self._mids[0][1]
            if then > 0:
                move = pct(abs(self.mid - then) / then * _HUNDRED)
        out.append((R.PRICE_MOVE, move, max_pct, act[R.PRICE_MOVE], _gt(move, max_pct)))

        age = None if self._fresh_at is None else seconds(now - self._fresh_at)
        lim = cfg.stale_data_seconds
        out.append((R.STALE_DATA, age, lim, act[R.STALE_DATA], _gt(age, lim)))

        n = self._api_errors.count(now)
        lim_n = cfg.max_api_errors_per_minute
        out.append((R.API_ERRORS, n, lim_n, act[R.API_ERRORS], n > lim_n))

        n = self._rejects.count(now)
        lim_n = cfg.max_rejects_per_minute
        out.append((R.REJECTS, n, lim_n, act[R.REJECTS], n > lim_n))

        loss = max(ZERO, -self.daily_pnl)
        lim = cfg.max_daily_loss
        out.append((R.DAILY_LOSS, loss, lim, act[R.DAILY_LOSS], loss > lim))

        n = self.open_orders
        lim_n = cfg.max_open_orders
        out.append((R.OPEN_ORDERS, n, lim_n, act[R.OPEN_ORDERS], n > lim_n))
        return out

    def check(self, now: float) -> list[Breach]:
        """Evaluate every continuous rule. Returns only new breaches: a rule is reported once
        and again only after its cause has cleared (seen by a later check)."""
        new: list[Breach] = []
        for rule, value, limit, action, breached in self._measure(now):
            if breached:
                if rule in self._active:
                    continue
                assert value is not None
                b = Breach(rule, value, limit, action, now, _message(rule, value, limit))
                self._active[rule] = b
                self._latched.append(b)
                self.last_breach_at = now
                new.append(b)
            elif rule in self._active:
                del self._active[rule]
                self.last_clear_at = now
        return new

    def status(self, now: float) -> list[RuleStatus]:
        """Every rule's current value, limit and OK/WARN/BREACHED (WARN from 80 % of the limit).
        Read-only: does not report or clear breaches."""
        out = [
            RuleStatus(rule, value, limit, state_upper(value, limit), action)
            for rule, value, limit, action, _ in self._measure(now)
        ]
        free = None if self.quote_total is None else self.quote_total - self.quote_locked
        floor = self.cfg.min_quote_balance
        out.append(RuleStatus(R.MIN_QUOTE_BALANCE, free, floor, state_lower(free, floor)))
        return out

    # ------------------------------------------------------------------ halt / resume
    @property
    def halted(self) -> bool:
        """A breach happened and the bot has not resumed since: pre-trade vetoes everything."""
        return bool(self._latched)

    @property
    def breaches(self) -> tuple[Breach, ...]:
        """Breaches since the last resume, oldest first."""
        return tuple(self._latched)

    def worst_action(self) -> BreachAction | None:
        """The strongest action among latched breaches (KILL > STOP > PAUSE)."""
        order = (BreachAction.KILL, BreachAction.STOP, BreachAction.PAUSE)
        actions = {b.action for b in self._latched}
        return next((a for a in order if a in actions), None)

    def can_auto_resume(self, now: float) -> bool:
        """True when only PAUSE breaches are latched, all their causes have cleared, auto
        resume is on, and auto_resume_after_seconds passed since the last breach and the last
        clearing (the later of the two). STOP and KILL never auto-resume."""
        wait = self.cfg.auto_resume_after_seconds
        if not self._latched or wait <= 0 or self._active:
            return False
        if any(b.action is not BreachAction.PAUSE for b in self._latched):
            return False
        if any(breached for *_, breached in self._measure(now)):
            return False
        since = max(t for t in (self.last_breach_at, self.last_clear_at) if t is not None)
        return now - since >= wait

    def resume(self, now: float) -> None:
        """The bot went back to RUNNING (operator or auto-resume): forget latched breaches and
        re-arm every rule, so a cause that still holds is reported again by the next check."""
        self._latched.clear()
        self._active.clear()

    # ------------------------------------------------------------------ UTC day
    def is_new_day(self, now: float) -> bool:
        """True when `now` is in another UTC day than the one the counters belong to (always
        true before the first reset_day)."""
        return self.day != utc_day(now)

    def reset_day(self, now: float) -> None:
        """Start a new UTC day: daily PnL and the daily counters go back to zero. Latched
        breaches stay latched (a STOP on daily loss still needs an explicit restart)."""
        self.day = utc_day(now)
        self.daily_pnl = ZERO
        self.api_errors_today = 0
        self.rejects_today = 0
        self.vetoes_today.clear()

    # ------------------------------------------------------------------ state
    def snapshot(self, now: float) -> dict[str, Any]:
        """The risk part of the bot's state, JSON-ready with agent.events.json_default."""
        return {
            "halted": self.halted,
            "rules": [s.fields() for s in self.status(now)],
            "breaches": [dict(b.fields(), at=b.at) for b in self._latched],
            "today": {
                "api_errors": self.api_errors_today,
                "rejects": self.rejects_today,
                "vetoes": dict(self.vetoes_today),
            },
        }


def _gt(value: Decimal | None, limit: Decimal) -> bool:
    return value is not None and value > limit


def _message(rule: RiskRule, value: Measure, limit: Measure) -> str:
    unit = {
        R.PRICE_DEVIATION: "% from the reference price",
        R.PRICE_MOVE: "% own mid move in one minute",
        R.STALE_DATA: "s since the last fresh market data",
        R.API_ERRORS: " API errors in the last minute",
        R.REJECTS: " rejects in the last minute",
        R.DAILY_LOSS: " quote lost since 00:00 UTC",
        R.OPEN_ORDERS: " open orders",
    }.get(rule, "")
    return f"{rule.value}: {value}{unit} > limit {limit}"
