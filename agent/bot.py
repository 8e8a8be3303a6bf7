"""One bot: one venue account, one market, one configuration.

Data flow: venue stream -> market data -> strategy (grid) -> pre-trade checks -> order manager
-> venue; fills -> ledger -> events. The lifecycle follows the table in `agent.lifecycle`;
commands that the table does not allow are refused with a reason (InvalidCommand).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from agent.client_ids import ClientIdFactory
from agent.clock import Clock
from agent.config import BotConfig, BreachAction
from agent.events import EventBus, EventKind, Severity
from agent.journal import Journal
from agent.ledger import Ledger
from agent.lifecycle import BotState, InvalidCommand, check
from agent.model import ZERO, Fill, MarketRules, OrderBook, OrderRequest, Side, TimeInForce
from agent.order_manager import OrderManager, Plan, PreTrade, Want
from agent.orders import TERMINAL, OrderState, TrackedOrder
from agent.pricing import ExternalFeed, PriceBoard, own_levels
from agent.risk import Breach, PreTradeContext, RiskEngine
from agent.strategy.grid import GridInputs, Ladder, compute_ladder, funding_warnings
from agent.strategy.volatility import RollingVolatility
from agent.venues.base import (
    BalanceUpdate,
    BookUpdate,
    FillUpdate,
    OrderUpdate,
    StreamStatus,
    TradeUpdate,
    Venue,
    VenueError,
    VenueErrorCode,
)
from agent.volume_runner import VolumeRunner

B = BotState
TICK_SECONDS = 0.25
STATUS_EVENT_SECONDS = 10.0
FLATTEN_RETRY_SECONDS = 2.0
# Dead-man switch: the venue cancels our orders this long after the last re-arm.
DEAD_MAN_TIMEOUT_SECONDS = 30
DEAD_MAN_REARM_SECONDS = 10.0
# Fills are also reconciled against the venue's trade history this often (streams can miss).
FILL_RECONCILE_SECONDS = 30.0
FILL_RECONCILE_OVERLAP = 120.0
# Levels per side of the venue's book in the full status (the console's depth chart).
STATUS_BOOK_LEVELS = 20


@dataclass(slots=True)
class Uptime:
    """Share of RUNNING time with at least one own bid and one own ask resting."""

    running: float = 0.0
    quoted: float = 0.0
    _last: float | None = None
    _was_running: bool = False
    _was_quoted: bool = False

    def mark(self, now: float, running: bool, quoted: bool) -> None:
        if self._last is not None and self._was_running:
            dt = now - self._last
            self.running += dt
            if self._was_quoted:
                self.quoted += dt
        self._last, self._was_running, self._was_quoted = now, running, quoted

    @property
    def pct(self) -> float:
        return 100.0 * self.quoted / self.running if self.running > 0 else 0.0


class Bot:
    def __init__(
        self,
        config: BotConfig,
        venue: Venue,
        bus: EventBus,
        clock: Clock,
        *,
        seed: int = 0,
        record_latency: bool = False,
    ) -> None:
        self.config = config
        self.name = config.bot.name
        self.symbol = config.bot.symbol
        self.venue = venue
        self.bus = bus
        self.clock = clock
        self.seed = seed
        self.state = B.INIT
        self.state_reason = ""
        self.rules: MarketRules | None = None
        self.book: OrderBook | None = None
        self.mid: Decimal | None = None
        self.ladder: Ladder | None = None
        self.ledger = Ledger(config.bot.base, config.bot.quote)
        self.vol = RollingVolatility(config.market_making.volatility_window_seconds)
        self.ids = ClientIdFactory(self.name, int(clock.now() * 1000))
        self.uptime = Uptime()
        self.om: OrderManager | None = None
        self.latencies_us: list[float] | None = [] if record_latency else None
        self.stream_up = True
        self.killed = False
        self.risk: RiskEngine | None = None
        self.prices = PriceBoard(config.pricing)
        self.breaches: list[Breach] = []
        self.risk_paused = False  # PAUSED by a breach (auto-resume may apply)
        self.rng = random.Random(seed)
        self.volume: VolumeRunner | None = None
        # the reference market of `pricing.external`, opened by whoever built the bot
        self.external_venue: Venue | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self._dirty = False
        self._book_arrived = 0.0
        self._stopped = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._last_status_event = 0.0
        self._last_flatten_try = 0.0
        self._planned_version = -1
        self._halted = False
        self._fills_checked_at = clock.now()
        self.on_state: Callable[[BotState, BotState, str], None] | None = None
        self.journal: Journal | None = None
        self._restoring = False

    # ---------------------------------------------------------------- lifecycle
    def _set_state(self, dst: BotState, reason: str) -> None:
        src = self.state
        check(src, dst, f"go to {dst.value}")
        self.state = dst
        self.state_reason = reason
        self._mark_uptime()
        sev = Severity.ERROR if dst is B.ERROR else Severity.INFO
        self.bus.emit(
            EventKind.STATE, self.name, sev, **{"from": src.value, "to": dst.value}, reason=reason
        )
        if self.on_state is not None:
            self.on_state(src, dst, reason)

    async def start(self, reason: str = "start", *, paused: bool = False) -> BotState:
        """INIT -> SYNC_BALANCES -> START_QUOTING -> RUNNING (or PAUSED when recovering a
        paused bot). From STOPPED this is the explicit restart that a kill requires."""
        if self.state is B.STOPPED:
            self._set_state(B.INIT, "restart")
            self.killed = False
            self._stopped = asyncio.Event()
        elif self.state is not B.INIT:
            raise InvalidCommand(f"cannot start while {self.state.value}")
        try:
            self._set_state(B.SYNC_BALANCES, reason)
            await self._sync()
            self._set_state(B.START_QUOTING, "balances and open orders synced")
            self._start_tasks()
            self.breaches_since_start = 0
            if self.risk is not None:
                self.risk.resume(self.clock.now())
            self.risk_paused = False
            if paused:
                self._set_state(B.PAUSED, reason)
            else:
                self._set_state(B.RUNNING, "quoting")
                self.requote()
        except VenueError as exc:
            await self._fail(f"start failed: {exc}")
        return self.state

    async def recover_idle(self) -> BotState:
        """After a restart of a bot that was stopped: reconcile with the venue, stay STOPPED."""
        try:
            self._set_state(B.SYNC_BALANCES, "recovered after restart")
            await self._sync()
            self._start_tasks()
            self._set_state(B.STOPPED, "recovered after restart; was stopped")
            await self._flatten()
        except VenueError as exc:
            await self._fail(f"recovery failed: {exc}")
        self._stopped.set()
        return self.state

    def _start_tasks(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._consume(), name=f"{self.name}-stream"),
                asyncio.create_task(self._ticker(), name=f"{self.name}-tick"),
            ]
            if self.volume is not None:
                self._tasks.append(
                    asyncio.create_task(self.volume.run(), name=f"{self.name}-volume")
                )
            if self.venue.capabilities.dead_man_switch:
                self._tasks.append(
                    asyncio.create_task(self._dead_man(), name=f"{self.name}-dead-man")
                )
            if self.external_venue is not None:
                self._tasks.append(
                    asyncio.create_task(self._external_feed(), name=f"{self.name}-reference")
                )

    async def _sync(self) -> None:
        venue = self.venue
        self.rules = await venue.market_rules(self.symbol)
        balances = await venue.fetch_balances()
        if self.om is None:
            self.ledger.reset_from(balances)
            self.om = OrderManager(
                bot=self.name,
                symbol=self.symbol,
                rules=self.rules,
                venue=venue,
                bus=self.bus,
                ids=self.ids,
                now=self.clock.now,
                on_fill=self._on_fill,
                on_api_error=self._on_api_error,
                on_reject=self._on_reject,
            )
            self.om.on_change = self._on_order_change
            self.om.holdings = lambda: (self.ledger.quote, self.ledger.base)
            self.om.pre_trade = self._pre_trade
            self.risk = RiskEngine(self.config.risk, self.rules)
            self.volume = VolumeRunner(self)
            if self.journal is not None and self._restoring:
                await self._restore(self.journal)
                # The venue's balances already contain what happened while we were down.
                self.ledger.reset_from(balances)
        # Orders with our prefix that we do not track (a previous run's) are cancelled.
        orphans = [
            o
            for o in await venue.fetch_open_orders(self.symbol)
            if self.ids.owns(o.client_order_id) and self.om.get(o.client_order_id) is None
        ]
        if orphans:
            await venue.cancel_orders(
                self.symbol, [(o.client_order_id, o.venue_order_id) for o in orphans]
            )
            self.bus.emit(
                EventKind.WARNING,
                self.name,
                Severity.WARNING,
                code="orphans_cancelled",
                count=len(orphans),
                message="cancelled own orders from a previous run",
            )
        book = await venue.fetch_order_book(self.symbol, 50)
        self._on_book(book)
        if self.mid is not None:
            for message in funding_warnings(self.config.market_making, self.rules, self.mid):
                self.bus.emit(
                    EventKind.WARNING, self.name, Severity.WARNING, code="funding", message=message
                )

    def restore_from_journal(self) -> None:
        """Marker for the host: `_sync` reloads in-flight orders when a journal is attached."""
        self._restoring = True

    async def _restore(self, journal: Journal) -> None:
        """Reload our in-flight orders and seen fills, then reconcile both with the venue:
        orders the venue no longer has are closed with their fills fetched; fills that
        happened while we were down are applied once (dedup by trade id)."""
        om = self.om
        assert om is not None
        om.seen_trades |= journal.trade_ids(self.name)
        for jo in journal.orders(self.name, open_only=True, limit=100000):
            o = TrackedOrder(
                client_order_id=jo.client_order_id,
                symbol=self.symbol,
                side=Side(jo.side),
                price=jo.price,
                amount=jo.amount,
                post_only=jo.post_only,
                created_at=jo.created_at,
                state=OrderState(jo.status),
                venue_order_id=jo.venue_order_id,
                filled=jo.filled,
                updated_at=jo.updated_at,
                tag=jo.tag,
            )
            om.orders[o.client_order_id] = o
        last = journal.last_fill_at(self.name)
        await self.reconcile_fills(since=(last - 60.0) if last is not None else None)
        for o in list(om.orders.values()):
            await om._settle_missing(o)
        restored = len(om.orders)
        if restored:
            self.bus.emit(
                EventKind.WARNING,
                self.name,
                Severity.INFO,
                code="orders_restored",
                count=restored,
                message="in-flight orders reloaded from the journal",
            )

    async def reconcile_fills(self, since: float | None = None) -> int:
        """Ask the venue for our fills and apply the ones we have not seen (dedup by trade id).

        Streams can miss fills (a reconnect, a crash, a shutdown between the last stream
        message and the final cancel); the venue's trade history cannot. Returns how many new
        fills were found."""
        om = self.om
        if om is None:
            return 0
        if since is None:
            since = self._fills_checked_at - FILL_RECONCILE_OVERLAP
        started = self.clock.now()
        try:
            fills = await self.venue.fetch_fills(self.symbol, since)
        except VenueError as exc:
            self._on_api_error(exc.code.value)
            return 0
        before = om.stats["fills_reconciled"]
        with self.bus.batch():
            for fill in fills:
                if self.ids.owns(fill.client_order_id) and fill.trade_id not in om.seen_trades:
                    om.stats["fills_reconciled"] += 1
                    om.apply_fill(fill)
        self._fills_checked_at = started
        return om.stats["fills_reconciled"] - before

    async def pause(self, reason: str = "operator") -> BotState:
        check(self.state, B.PAUSED, "pause")
        self._set_state(B.PAUSED, reason)
        await self._flatten()
        return self.state

    async def resume(self, reason: str = "operator") -> BotState:
        check(self.state, B.RUNNING, "resume")
        if self.risk is not None:
            self.risk.resume(self.clock.now())  # re-arms every rule; a live cause re-breaches
        self.risk_paused = False
        self._set_state(B.RUNNING, reason)
        self.requote()
        return self.state

    async def stop(self, reason: str = "operator") -> BotState:
        check(self.state, B.STOPPED, "stop")
        self._set_state(B.STOPPED, reason)
        await self._flatten()
        await self.reconcile_fills()
        await self._disarm_dead_man()
        self._stopped.set()
        return self.state

    async def _disarm_dead_man(self) -> None:
        if self.venue.capabilities.dead_man_switch:
            try:
                await self.venue.arm_dead_man(self.symbol, 0)
            except VenueError as exc:
                self.bus.emit(
                    EventKind.ERROR,
                    self.name,
                    Severity.WARNING,
                    code="dead_man",
                    message=f"dead-man switch not disarmed: {exc}",
                )

    async def kill(self, reason: str = "kill switch") -> BotState:
        """Cancel everything, confirm with the venue, refuse to quote until a restart."""
        self.killed = True
        if self.state is not B.STOPPED:
            check(self.state, B.STOPPED, "kill")
            self._set_state(B.STOPPED, reason)
        await self._flatten()
        await self._disarm_dead_man()
        self._stopped.set()
        return self.state

    async def halt(self) -> bool:
        """For a process shutdown: stop deciding, cancel and confirm every order, and record
        no lifecycle change (a restart resumes the state the journal holds)."""
        self._halted = True
        await self.close()
        flat = await self._flatten()
        await self.reconcile_fills()  # fills that landed after the stream was closed
        return flat

    async def cancel_all(self) -> bool:
        if self.om is None:
            raise InvalidCommand("cannot cancel orders before the bot has synced with the venue")
        return await self._flatten()

    async def _flatten(self) -> bool:
        """Cancel all own orders and confirm with the venue (retrying a few times)."""
        if self._sync_task is not None and not self._sync_task.done():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._sync_task
        if self.om is None:
            return True
        for attempt in range(5):
            if await self.om.cancel_all():
                return True
            await asyncio.sleep(0.2 * (attempt + 1))
        self.bus.emit(
            EventKind.ERROR,
            self.name,
            Severity.CRITICAL,
            code="cancel_unconfirmed",
            message="could not confirm that all own orders are cancelled",
        )
        return False

    async def _keep_flat(self) -> None:
        """Outside RUNNING no order of ours may rest: if a cancel could not be confirmed (the
        venue was failing), keep trying every few seconds until it is."""
        om = self.om
        if self.state is B.RUNNING or self.state is B.START_QUOTING or om is None:
            return
        if not om.orders:
            return
        now = self.clock.monotonic()
        if now - self._last_flatten_try < FLATTEN_RETRY_SECONDS:
            return
        self._last_flatten_try = now
        await om.cancel_all()

    async def _fail(self, reason: str) -> None:
        if self.state not in (B.ERROR, B.STOPPED):
            self._set_state(B.ERROR, reason)
        await self._flatten()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []

    # ---------------------------------------------------------------- market data
    async def _dead_man(self) -> None:
        """Keep the venue's dead-man switch armed while orders may rest, so a dead agent's
        orders are cancelled by the venue itself; disarmed when the bot is flat on purpose."""
        armed = False
        failures = 0
        while True:
            want = self.state in (B.RUNNING, B.START_QUOTING)
            try:
                if want:
                    await self.venue.arm_dead_man(self.symbol, DEAD_MAN_TIMEOUT_SECONDS)
                    armed = True
                elif armed and not (self.om is not None and self.om.orders):
                    await self.venue.arm_dead_man(self.symbol, 0)
                    armed = False
                failures = 0
            except VenueError as exc:
                failures += 1
                self._on_api_error(exc.code.value)
                self.bus.emit(
                    EventKind.ERROR,
                    self.name,
                    Severity.WARNING,
                    code="dead_man",
                    message=f"dead-man switch not re-armed: {exc}",
                )
                if failures == 1:
                    continue  # retry at once
            await asyncio.sleep(DEAD_MAN_REARM_SECONDS)

    async def _external_feed(self) -> None:
        """Follow the external reference market; restart the feed when it ends or fails (in the
        meantime the reference goes stale and the risk engine stops quoting)."""
        ext = self.config.pricing.external
        assert ext is not None and self.external_venue is not None
        while True:
            feed = ExternalFeed(self.external_venue, ext.symbol, self.prices, self.clock.now)
            try:
                await feed.run()
                reason = "stream ended"
            except VenueError as exc:
                reason = str(exc)
            self.bus.emit(
                EventKind.ERROR,
                self.name,
                Severity.WARNING,
                code="reference_down",
                message=f"reference market {ext.venue} {ext.symbol}: {reason}",
            )
            await asyncio.sleep(5.0)

    async def _consume(self) -> None:
        async for ev in self.venue.stream(self.symbol):
            if isinstance(ev, BookUpdate):
                self._book_arrived = time.perf_counter()
                self._on_book(ev.book)
                if self.state is B.RUNNING:
                    self.requote()
            elif isinstance(ev, FillUpdate):
                if self.om is not None:
                    self.om.apply_fill(ev.fill)
            elif isinstance(ev, OrderUpdate):
                if self.om is not None:
                    self.om.apply_venue_order(ev.order)
            elif isinstance(ev, TradeUpdate):
                self.prices.on_trade(ev.trade)
            elif isinstance(ev, BalanceUpdate):
                pass  # the ledger is driven by our own fills (exact, never behind them)
            elif isinstance(ev, StreamStatus):
                self._on_stream_status(ev)

    def _on_stream_status(self, ev: StreamStatus) -> None:
        """Venue stream health. A dead book feed stops quoting at once (the stale-data rule
        then breaches on its own clock); a rate limit holds new orders, cancels still go;
        account streams falling back to REST keep quoting (reconcile covers them)."""
        now = self.clock.now()
        if ev.stream == "book":
            self.stream_up = ev.up
        elif ev.stream == "rate_limit" and self.om is not None:
            self.om.hold_creates = not ev.up
            if not ev.up and self.risk is not None:
                self.risk.on_api_error(now)
        sev = Severity.INFO if ev.up else Severity.WARNING
        self.bus.emit(
            EventKind.WARNING if ev.up else EventKind.ERROR,
            self.name,
            sev,
            code="stream_up" if ev.up else "stream_down",
            stream=ev.stream,
            message=ev.reason,
        )
        if ev.up and self.state is B.RUNNING:
            self.requote()

    def _on_book(self, book: OrderBook) -> None:
        """Feed the price sources with the book minus our own orders (our quotes must not
        chase themselves), and the risk engine with the resulting market mid."""
        self.book = book
        now = self.clock.now()
        own = own_levels(self.om.active()) if self.om is not None else None
        self.prices.on_book(book, now, own)
        point = self.prices.mid.current()
        mid = point.price if point is not None else book.mid
        if mid is not None:
            self.mid = mid
            self.vol.add(book.at, mid)
        if self.risk is not None:
            self.risk.on_book(mid, now)
            ref = self.prices.risk_reference(now)
            if ref is not None:
                self.risk.on_reference(ref.price, ref.at)

    # ---------------------------------------------------------------- decisions
    def requote(self) -> None:
        """Recompute the ladder and hand the actions to the order manager (one sync at a time)."""
        if self.state is not B.RUNNING or self.om is None or self._halted:
            return
        if self._sync_task is not None and not self._sync_task.done():
            self._dirty = True
            self._book_arrived = 0.0  # deferred until the venue answers: not decision time
            return
        with self.bus.batch():  # the whole decision's events: one journal transaction
            plan = self.decide()
            if plan is not None and not plan.empty:
                plan = self.om.admit(plan)
                self._sync_task = asyncio.create_task(self._execute(plan))
        if self.latencies_us is not None and self._book_arrived:
            self.latencies_us.append((time.perf_counter() - self._book_arrived) * 1e6)
        self._book_arrived = 0.0

    def decide(self) -> Plan | None:
        om, rules, book = self.om, self.rules, self.book
        point = self.prices.quote_price(self.clock.now())
        if om is None or rules is None or book is None or point is None or not self.stream_up:
            return None  # no fresh reference price: do not quote
        mid = point.price
        mm = self.config.market_making
        lq, lb = om.locked()
        inv = self.ledger.inventory(lq, lb)
        ladder = compute_ladder(
            GridInputs(
                config=mm,
                reference_price=mid,
                inventory=inv,
                rules=rules,
                volatility_pct_per_min=self._volatility(),
                best_bid=book.best_bid,
                best_ask=book.best_ask,
                seed=self.seed,
            )
        )
        bump = om.post_only_bump
        if (
            ladder is self.ladder
            and om.version == self._planned_version
            and not bump[Side.BUY]
            and not bump[Side.SELL]
        ):
            return None  # same wanted ladder, same orders: nothing to do
        self.ladder = ladder
        tif = TimeInForce.POST_ONLY if mm.post_only else TimeInForce.GTC
        tick = rules.tick_size
        buy_off = bump[Side.BUY] * tick  # the same Decimal operations as per level, done once
        sell_off = bump[Side.SELL] * tick
        wants = []
        for q in ladder.bids:
            price = q.price - buy_off
            if price > 0:
                wants.append(Want(Side.BUY, price, q.amount, tif))
        wants.extend(Want(Side.SELL, q.price + sell_off, q.amount, tif) for q in ladder.asks)
        bump[Side.BUY] = bump[Side.SELL] = 0
        plan = om.plan(wants, mm.refresh_tolerance_pct, mm.refresh_size_tolerance_pct)
        self._planned_version = om.version
        return plan

    def _volatility(self) -> float:
        """Volatility in steps of 0.01 %/min: finer steps move the spread by a fraction of a
        tick and only defeat the strategy's memo of an unchanged ladder."""
        return round(self.vol.pct_per_minute(), 2)

    async def _execute(self, plan: Plan) -> None:
        assert self.om is not None
        try:
            await self.om.send(plan)
        except VenueError as exc:
            self.bus.emit(
                EventKind.ERROR, self.name, Severity.ERROR, code="sync_failed", message=str(exc)
            )
            if exc.code is VenueErrorCode.AUTH:
                await self._fail(f"authentication failed: {exc.message}")
        finally:
            if self._dirty:
                self._dirty = False
                asyncio.get_running_loop().call_soon(self.requote)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            if self.om is not None:
                await self.om.reconcile()
            await self._check_risk()
            if self.volume is not None:
                self.volume.tick()
            await self._keep_flat()
            now = self.clock.now()
            if now - self._fills_checked_at >= FILL_RECONCILE_SECONDS:
                await self.reconcile_fills()
            self._mark_uptime()
            if now - self._last_status_event >= STATUS_EVENT_SECONDS:
                self._last_status_event = now
                self.bus.emit(EventKind.STATUS, self.name, Severity.DEBUG, **self.status_fields())

    def _pre_trade(self) -> PreTrade | None:
        """The pre-trade check for the orders of one decision (the order manager's hook).

        The context (time, market view, risk reference, quote held) is built once per decision;
        every order is still checked against every rule, with the open-order count and the
        quote locked by the orders admitted before it."""
        risk = self.risk
        if risk is None:
            return None
        book = self.book
        now = self.clock.now()
        ref = self.prices.risk_reference(now)
        ctx = PreTradeContext(
            now=now,
            open_orders=0,
            quote_total=self.ledger.quote,
            quote_locked=ZERO,
            reference=ref.price if ref is not None else None,
            best_bid=book.best_bid if book is not None else None,
            best_ask=book.best_ask if book is not None else None,
        )
        check_order = risk.check_order

        def check(
            req: OrderRequest, open_orders: int, quote_locked: Decimal
        ) -> tuple[OrderRequest | None, str]:
            ctx.open_orders = open_orders
            ctx.quote_locked = quote_locked
            return check_order(req, ctx)

        return check

    # ---------------------------------------------------------------- risk
    async def _check_risk(self) -> None:
        risk, om = self.risk, self.om
        if risk is None or om is None:
            return
        now = self.clock.now()
        if risk.is_new_day(now):
            first = risk.day is None
            risk.reset_day(now)
            if not first:
                self.ledger.new_day()
                self.bus.emit(
                    EventKind.RISK,
                    self.name,
                    Severity.INFO,
                    code="new_day",
                    message="UTC day rollover: daily counters reset",
                )
        count = sum(1 for _ in om.active())
        lq, _ = om.locked()
        risk.on_open_orders(count, now)
        risk.on_balance(self.ledger.quote, lq, now)
        if self.mid is not None:
            risk.on_pnl(self.ledger.pnl_day(self.mid), now)
        for breach in risk.check(now):
            await self._on_breach(breach)
        if self.state is B.PAUSED and self.risk_paused and risk.can_auto_resume(now):
            await self.resume("auto-resume: every breach cause has cleared")

    async def _on_breach(self, b: Breach) -> None:
        self.breaches.append(b)
        severity = Severity.WARNING if b.action is BreachAction.PAUSE else Severity.CRITICAL
        self.bus.emit(EventKind.RISK, self.name, severity, **b.fields())
        reason = f"risk: {b.rule.value} {b.value} > {b.limit}"
        if b.action is BreachAction.PAUSE:
            if self.state is B.RUNNING:
                await self.pause(reason)
                self.risk_paused = True
            else:
                await self._flatten()
        elif self.state is not B.STOPPED or self.om is not None:
            await self.kill(f"{reason} ({b.action.value})")

    # ---------------------------------------------------------------- callbacks
    def _on_fill(self, fill: Fill) -> None:
        self.ledger.apply(fill)
        if self.volume is not None and self.om is not None:
            o = self.om.get(fill.client_order_id)
            if o is not None and o.tag == "volume":
                self.volume.on_fill(fill)
        self.bus.emit(
            EventKind.FILL,
            self.name,
            Severity.INFO,
            client_order_id=fill.client_order_id,
            trade_id=fill.trade_id,
            side=fill.side.value,
            price=fill.price,
            amount=fill.amount,
            fee=fill.fee,
            fee_asset=fill.fee_asset,
            liquidity=fill.liquidity.value,
        )

    def _on_order_change(self, o: TrackedOrder) -> None:
        terminal = o.state in TERMINAL  # o.terminal: called for every order of a decision
        if terminal or (o.history and o.history[-1][1] is OrderState.PENDING_NEW):
            self._mark_uptime()  # only entering or leaving the book changes "quoted"
        if terminal and self.state is B.RUNNING:
            self.requote()  # a filled/cancelled level is replaced right away

    def _on_api_error(self, code: str) -> None:
        if self.risk is not None:
            self.risk.on_api_error(self.clock.now())
        if code == VenueErrorCode.AUTH:
            asyncio.get_running_loop().create_task(self._fail("authentication failed"))

    def _on_reject(self, code: str, message: str) -> None:
        if self.risk is not None:
            self.risk.on_reject(self.clock.now())

    def _mark_uptime(self) -> None:
        bids, asks = self.om.live_counts() if self.om is not None else (0, 0)
        self.uptime.mark(self.clock.monotonic(), self.state is B.RUNNING, bids > 0 and asks > 0)

    # ---------------------------------------------------------------- configuration
    def apply_config(self, config: BotConfig) -> None:
        """Take a new configuration live; the next decision uses it."""
        old = self.config
        self.config = config
        if old.market_making.volatility_window_seconds != (
            config.market_making.volatility_window_seconds
        ):
            self.vol = RollingVolatility(config.market_making.volatility_window_seconds)
        if old.pricing != config.pricing:
            self.prices.cfg = config.pricing  # same board: the reference feed keeps feeding it
            self.prices.max_age = float(config.pricing.max_age_seconds)
            if self.book is not None:
                self._on_book(self.book)
        if old.risk != config.risk and self.rules is not None:
            self.risk = RiskEngine(config.risk, self.rules)
            if self.book is not None:
                self._on_book(self.book)
        if old.volume != config.volume and self.volume is not None:
            self.volume.reconfigure(config.volume)
        self.requote()

    def preview(self, config: BotConfig) -> dict[str, Any] | None:
        """The ladder `config` would place now (no orders are sent)."""
        if self.rules is None or self.mid is None or self.book is None:
            return None
        lq, lb = self.om.locked() if self.om is not None else (ZERO, ZERO)
        ladder = compute_ladder(
            GridInputs(
                config=config.market_making,
                reference_price=self.mid,
                inventory=self.ledger.inventory(lq, lb),
                rules=self.rules,
                volatility_pct_per_min=self.vol.pct_per_minute(),
                best_bid=self.book.best_bid,
                best_ask=self.book.best_ask,
                seed=self.seed,
            )
        )
        used_q, used_b = ladder.budget_used()
        return {
            "mid": self.mid,
            "spread_pct": ladder.spread_pct,
            "bids": [{"price": q.price, "amount": q.amount, "level": q.level} for q in ladder.bids],
            "asks": [{"price": q.price, "amount": q.amount, "level": q.level} for q in ladder.asks],
            "budget_used_quote": used_q,
            "budget_used_base": used_b,
            "dropped": [
                {"side": s.value, "level": lv, "reason": why} for s, lv, why in ladder.dropped
            ],
        }

    # ---------------------------------------------------------------- reporting
    def full_status(self) -> dict[str, Any]:
        out = self.status_fields()
        led = self.ledger
        lq, lb = self.om.locked() if self.om is not None else (ZERO, ZERO)
        out.update(
            name=self.name,
            symbol=self.symbol,
            state_reason=self.state_reason,
            killed=self.killed,
            balances={
                led.base_asset: {"total": led.base, "locked": lb, "free": led.base - lb},
                led.quote_asset: {"total": led.quote, "locked": lq, "free": led.quote - lq},
            },
            pnl_today_quote=led.pnl_day(self.mid) if self.mid else ZERO,
            fees_quote=led.fees_quote,
            quote_uptime_pct=round(self.uptime.pct, 3),
            base_share_pct=(led.inventory(lq, lb).base_share(self.mid) * 100 if self.mid else None),
            inventory_target_base_pct=self.config.market_making.inventory_target_base_pct,
            risk=self.risk_report(),
            volume=self.volume.progress() if self.volume is not None else None,
            prices=[
                {"source": p.source.value, "price": p.price, "at": p.at, "fresh": p.fresh}
                for p in self.prices.status(self.clock.now())
            ],
            ladder=self.ladder_report(),
            book=self.book_report(),
        )
        return out

    def book_report(self, levels: int = STATUS_BOOK_LEVELS) -> dict[str, Any] | None:
        """The venue's book as the bot last saw it, best `levels` per side, own orders
        included (they rest in it), for the console's market depth chart. Built on request
        from the book the stream already keeps: slicing a few levels costs next to nothing,
        so the decision path is untouched."""
        book = self.book
        if book is None:
            return None
        return {
            "bids": [{"price": lv.price, "amount": lv.amount} for lv in book.bids[:levels]],
            "asks": [{"price": lv.price, "amount": lv.amount} for lv in book.asks[:levels]],
            "at": book.at,
        }

    def risk_report(self) -> dict[str, Any]:
        """Every rule's value, limit and OK/WARN/BREACHED, and all breaches of this run."""
        now = self.clock.now()
        rules = [s.fields() for s in self.risk.status(now)] if self.risk is not None else []
        breached = any(r["state"] == "BREACHED" for r in rules)
        warn = any(r["state"] == "WARN" for r in rules)
        return {
            "status": "BREACHED" if breached else "WARN" if warn else "OK",
            "halted": self.risk.halted if self.risk is not None else False,
            "rules": rules,
            "breaches": [dict(b.fields(), at=b.at) for b in self.breaches],
        }

    def ladder_report(self) -> dict[str, Any] | None:
        if self.ladder is None:
            return None
        lad = self.ladder
        return {
            "spread_pct": lad.spread_pct,
            "center": lad.center,
            "skew": lad.skew,
            "bids": [{"price": q.price, "amount": q.amount} for q in lad.bids],
            "asks": [{"price": q.price, "amount": q.amount} for q in lad.asks],
        }

    def status_fields(self) -> dict[str, Any]:
        bids, asks = self.om.live_counts() if self.om is not None else (0, 0)
        mid = self.mid or ZERO
        spread = None
        if self.ladder is not None and self.ladder.bids and self.ladder.asks:
            spread = self.ladder.asks[0].price - self.ladder.bids[0].price
        return {
            "state": self.state.value,
            "mid": self.mid,
            "spread": spread,
            "open_bids": bids,
            "open_asks": asks,
            "base": self.ledger.base,
            "quote": self.ledger.quote,
            "pnl_quote": self.ledger.pnl(mid) if self.mid else ZERO,
            "fills": self.ledger.fills,
            "volume_quote": self.ledger.volume_quote,
        }
