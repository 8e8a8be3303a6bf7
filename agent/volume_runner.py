"""Runs the volume program of one bot: trade events at the scheduler's times, each one order
planned by `plan_event` and sent through the order manager (so pre-trade risk and the
self-trade guard apply to it like to any other order); maker orders rest for a randomized
lifetime and are then cancelled. Volume only ever comes from other participants taking them,
or, in MIXED mode, from inventory-reducing taker orders against other participants' orders.
"""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING, Any

from agent.config import VolumeConfig
from agent.events import EventKind, Severity
from agent.lifecycle import BotState
from agent.model import ZERO, Fill, Liquidity
from agent.orders import OrderState
from agent.strategy.volume import Skip, VolumeScheduler, plan_event

if TYPE_CHECKING:
    from agent.bot import Bot

MILESTONES = (25, 50, 75, 100)


class VolumeRunner:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.cfg = bot.config.volume
        self.rng = random.Random(bot.seed * 7919 + 1)
        self.sched = VolumeScheduler(self.cfg, self.rng)
        self.taker_trades = 0
        self.maker_trades = 0
        self.orders_sent = 0
        self.skips = 0
        self._milestones: set[int] = set()
        self._day: int | None = None
        self._timers: dict[str, asyncio.TimerHandle] = {}

    # ---------------------------------------------------------------- schedule
    async def run(self) -> None:
        clock = self.bot.clock
        while True:
            now = clock.now()
            at = self.sched.next_event_at(now)
            if at is None:
                # Nothing more today (disabled, target met, outside windows): look again later.
                nxt = self.sched.windows.next_day_start(now)
                await asyncio.sleep(min(60.0, max(1.0, nxt - now)))
                continue
            await asyncio.sleep(max(0.0, at - now))
            await self._event()

    async def _event(self) -> None:
        bot = self.bot
        om, book, rules = bot.om, bot.book, bot.rules
        if (
            not self.cfg.enabled
            or bot.state is not BotState.RUNNING
            or om is None
            or book is None
            or rules is None
        ):
            return
        in_flight = sum((o.price * o.remaining for o in om.active() if o.tag == "volume"), ZERO)
        size = self.sched.draw_size(in_flight)
        if size is None:
            return
        locked_q, locked_b = om.locked()
        plan = plan_event(
            size,
            book,
            bot.ledger.inventory(locked_q, locked_b),
            list(om.active()),
            rules,
            bot.config.market_making.inventory_target_base_pct,
            self.cfg.execution_mode,
            self.rng,
            mark=bot.mid,
        )
        if isinstance(plan, Skip):
            self.skips += 1
            bot.bus.emit(
                EventKind.VOLUME, bot.name, Severity.DEBUG, code="skip", message=plan.reason
            )
            return
        req = plan.request(bot.ids.next(), bot.symbol)
        self.orders_sent += 1
        await om.create([req], tag="volume")
        if not plan.taker:
            lifetime = self.sched.draw_lifetime()
            loop = asyncio.get_running_loop()
            self._timers[req.client_order_id] = loop.call_later(
                lifetime, self._expire, req.client_order_id
            )

    def _expire(self, client_order_id: str) -> None:
        self._timers.pop(client_order_id, None)
        om = self.bot.om
        if om is None:
            return
        o = om.orders.get(client_order_id)
        if o is not None and not o.terminal and o.state is not OrderState.PENDING_CANCEL:
            asyncio.get_running_loop().create_task(om.cancel([o]))

    # ---------------------------------------------------------------- feedback
    def on_fill(self, fill: Fill) -> None:
        bot = self.bot
        now = bot.clock.now()
        quote = bot.ledger.quote_asset
        fee_quote = fill.fee if fill.fee_asset == quote else fill.fee * fill.price
        if fill.liquidity is Liquidity.TAKER:
            self.taker_trades += 1
        else:
            self.maker_trades += 1
        reason = self.sched.record_fill(fill.side, fill.price, fill.amount, fee_quote, now)
        self._check_milestones(now)
        if reason:
            self._disabled(reason)

    def tick(self) -> None:
        bot = self.bot
        if bot.mid is None or not self.cfg.enabled:
            return
        reason = self.sched.mark(bot.mid, bot.clock.now())
        if reason:
            self._disabled(reason)

    def _check_milestones(self, now: float) -> None:
        day = self.sched.day
        if day != self._day:
            self._day, self._milestones = day, set()
        target = self.cfg.daily_notional
        if target <= 0:
            return
        pct = self.sched.done / target * 100
        for m in MILESTONES:
            if pct >= m and m not in self._milestones:
                self._milestones.add(m)
                self.bot.bus.emit(
                    EventKind.VOLUME,
                    self.bot.name,
                    Severity.INFO,
                    code="milestone",
                    milestone=m,
                    done=self.sched.done,
                    target=target,
                )

    def _disabled(self, reason: str) -> None:
        bot = self.bot
        bot.bus.emit(
            EventKind.VOLUME,
            bot.name,
            Severity.WARNING,
            code="cap",
            cap=reason,
            message=f"volume program disabled for the rest of the UTC day: {reason}",
            done=self.sched.done,
        )
        om = bot.om
        if om is not None:
            resting = [o for o in om.active() if o.tag == "volume" and not o.terminal]
            if resting:
                asyncio.get_running_loop().create_task(om.cancel(resting))

    def reconfigure(self, cfg: VolumeConfig) -> None:
        """New settings; today's counters (done, PnL, caps) carry over."""
        old = self.sched
        self.cfg = cfg
        self.sched = VolumeScheduler(cfg, self.rng)
        for attr in ("day", "done", "cash", "position", "last_mark", "fills"):
            setattr(self.sched, attr, getattr(old, attr))
        if old.disabled_reason and cfg.enabled and old.disabled_reason != "disabled in config":
            self.sched.disabled_reason = old.disabled_reason
            self.sched.disabled_at = old.disabled_at

    # ---------------------------------------------------------------- reporting
    def progress(self) -> dict[str, Any]:
        p = self.sched.progress(self.bot.clock.now()).fields()
        p.update(
            enabled=self.cfg.enabled,
            taker_trades=self.taker_trades,
            maker_trades=self.maker_trades,
            orders_sent=self.orders_sent,
        )
        return p
