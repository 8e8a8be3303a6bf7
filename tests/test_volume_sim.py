"""The volume program on the simulator: reaches its target only through other participants."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from agent.bot import Bot
from agent.config import ExecutionMode
from agent.events import Event, EventBus, EventKind
from agent.model import Liquidity, Side
from agent.venues.sim import SimVenue, load_scenario
from tests.simrun import example_config, run_bot

DAY_START = 1_800_057_600.0  # 2027-01-16T00:00:00Z
TARGET = Decimal(5000)


def _config(mode: ExecutionMode) -> object:
    # One active hour: the whole day's target is paced into it, so an hour-long run
    # exercises the full pacing of a day.
    return example_config(
        volume={
            "enabled": True,
            "daily_notional": TARGET,
            "max_daily_notional": Decimal(7500),
            "trade_min": Decimal(10),
            "trade_max": Decimal(80),
            "active_windows": ["00:00-01:00"],
            "execution_mode": mode,
            "max_daily_loss": Decimal(25),
        }
    )


def _taker_deviation_monitor(bad: list[str], checked: list[int]) -> object:
    """Every taker order, as decided, must reduce the inventory deviation: compare the
    inventory when the order was admitted with that inventory plus the order's fills."""

    def attach(bus: EventBus, bot: Bot, venue: SimVenue) -> None:
        at_decision: dict[str, tuple[Decimal, Decimal]] = {}

        def share(base: Decimal, quote: Decimal, price: Decimal) -> Decimal:
            return base * price / (base * price + quote)

        def on_event(ev: Event) -> None:
            d = ev.data
            if ev.kind is EventKind.ORDER and d["status"] == "PENDING_NEW":
                if d["tag"] == "volume" and not d["post_only"]:
                    at_decision[d["client_order_id"]] = (bot.ledger.base, bot.ledger.quote)
                return
            if ev.kind is not EventKind.FILL or d["liquidity"] != Liquidity.TAKER.value:
                return
            if d["client_order_id"] not in at_decision:
                bad.append(f"taker fill of a non-volume order {d['client_order_id']}")
                return
            base, quote = at_decision[d["client_order_id"]]
            price, amount = d["price"], d["amount"]
            sign = 1 if d["side"] == Side.BUY.value else -1
            after_base, after_quote = base + sign * amount, quote - sign * price * amount
            at_decision[d["client_order_id"]] = (after_base, after_quote)
            target = bot.config.market_making.inventory_target_base_pct / 100
            before = share(base, quote, price) - target
            after = share(after_base, after_quote, price) - target
            checked.append(1)
            if abs(after) >= abs(before):
                bad.append(f"taker {d['side']} moved deviation {before:.5f} -> {after:.5f}")

        bus.subscribe(on_event)

    return attach


def _run_day(
    mode: ExecutionMode, scenario: object = "calm"
) -> tuple[Bot, SimVenue, list[str], int]:
    bad: list[str] = []
    checked: list[int] = []

    async def body(bot: Bot, venue: SimVenue, events: list[Event]) -> None:
        await asyncio.sleep(3700)

    bot, venue, _ = run_bot(
        body,
        scenario=scenario,  # type: ignore[arg-type]
        config=_config(mode),  # type: ignore[arg-type]
        start=DAY_START,
        seed=4,
        on_bus=_taker_deviation_monitor(bad, checked),
    )
    return bot, venue, bad, len(checked)


def test_maker_first_reaches_target_with_others_only() -> None:
    bot, venue, bad, _ = _run_day(ExecutionMode.MAKER_FIRST)
    assert bot.volume is not None
    done = bot.volume.sched.done
    assert abs(done - TARGET) <= TARGET / 10, done
    assert bot.volume.taker_trades == 0
    assert venue.self_trades == 0
    assert bad == []


def test_mixed_takers_only_reduce_the_inventory_deviation() -> None:
    bot, venue, bad, checked = _run_day(ExecutionMode.MIXED)
    assert bot.volume is not None
    done = bot.volume.sched.done
    assert abs(done - TARGET) <= TARGET / 10, done
    assert bot.volume.taker_trades > 0 and checked == bot.volume.taker_trades
    assert venue.self_trades == 0
    assert bad == []


def test_without_third_party_takers_target_is_missed_safely() -> None:
    quiet = load_scenario("calm").model_copy(
        update={"takers": load_scenario("calm").takers.model_copy(update={"rate_per_second": 0})}
    )
    bot, venue, bad, _ = _run_day(ExecutionMode.MAKER_FIRST, quiet)
    assert bot.volume is not None
    assert bot.volume.sched.done < TARGET / 2
    assert venue.self_trades == 0
    assert bad == []
    assert bot.state.value == "RUNNING"
    assert bot.risk is not None and not bot.risk.breaches
