"""The pure parts of the Telegram notifier: alert texts, queue, pacing, digests, reports."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.config import BreachAction
from agent.events import Event, EventKind, Severity
from agent.notify.messages import (
    FillDigest,
    Market,
    NotifyKind,
    alert_for,
    format_status,
    money,
    num,
    sig,
)
from agent.notify.queue import OutboundQueue, Outgoing
from agent.notify.ratelimit import ChatPacer, RateLimit
from agent.notify.report import Tally, format_daily_report, next_report_at
from agent.risk import Breach
from agent.risk.rules import RiskRule

M = Market("ushark-mm", "USHARK/USDT")


def ev(kind: EventKind, severity: Severity = Severity.INFO, /, **data: Any) -> Event:
    return Event(1, 1_800_000_000.0, kind, "ushark-mm", severity, data)


# ---------------------------------------------------------------------- numbers


def test_number_formats_keep_units_readable() -> None:
    assert money(Decimal("1234.5"), "USDT") == "1,234.50 USDT"
    assert money(Decimal("-4.561"), "USDT", signed=True) == "-4.56 USDT"
    assert money(Decimal("4.5"), "USDT", signed=True) == "+4.50 USDT"
    assert money(Decimal("0.038738"), "USDT") == "0.03874 USDT"
    assert money("0", "USDT") == "0.00 USDT"
    assert num(Decimal("2500000.000")) == "2,500,000"
    assert num("19321.12345678912") == "19,321.12345679"
    assert sig(Decimal("0.0020005123")) == "0.00200051"
    assert sig(Decimal("41234.567")) == "41,234.6"
    assert num(None) == "?" and sig("garbage") == "?"


# ---------------------------------------------------------------------- alerts per kind


def test_state_alerts_only_for_settled_states_and_stop_error_are_critical() -> None:
    assert alert_for(ev(EventKind.STATE, **{"from": "INIT", "to": "SYNC_BALANCES"}), M) is None
    running = alert_for(
        ev(EventKind.STATE, **{"from": "START_QUOTING", "to": "RUNNING", "reason": "quoting"}), M
    )
    assert running is not None and not running.critical
    assert running.text.startswith("▶️ ushark-mm · USHARK/USDT: RUNNING (was START_QUOTING)")
    stopped = alert_for(
        ev(EventKind.STATE, **{"from": "RUNNING", "to": "STOPPED", "reason": "operator"}), M
    )
    assert stopped is not None and stopped.critical and stopped.kind is NotifyKind.STATE
    error = alert_for(
        ev(EventKind.STATE, Severity.ERROR, **{"from": "RUNNING", "to": "ERROR", "reason": "auth"}),
        M,
    )
    assert error is not None and error.critical and "ERROR" in error.text
    kill = alert_for(
        ev(EventKind.STATE, **{"from": "RUNNING", "to": "STOPPED", "reason": "kill switch"}), M
    )
    assert kill is not None and kill.critical and "KILL SWITCH" in kill.text


def test_risk_breach_alerts_carry_values_units_and_action() -> None:
    def breach(rule: RiskRule, value: str, limit: str, action: BreachAction) -> Event:
        b = Breach(rule, Decimal(value), Decimal(limit), action, 0.0, "msg")
        return ev(EventKind.RISK, Severity.WARNING, **b.fields())

    pause = alert_for(breach(RiskRule.PRICE_DEVIATION, "21.3", "5", BreachAction.PAUSE), M)
    assert pause is not None and not pause.critical and pause.kind is NotifyKind.RISK
    assert pause.text == (
        "🚨 ushark-mm · USHARK/USDT: risk breach price_deviation\n"
        "21.3% > limit 5%\n→ PAUSE: bot paused"
    )
    loss = alert_for(breach(RiskRule.DAILY_LOSS, "61.2", "50", BreachAction.STOP), M)
    assert loss is not None and loss.critical
    assert "61.2 USDT > limit 50 USDT" in loss.text and "bot stopped" in loss.text
    kill = alert_for(breach(RiskRule.API_ERRORS, "25", "20", BreachAction.KILL), M)
    assert kill is not None and kill.critical and "25/min > limit 20/min" in kill.text
    assert "KILL SWITCH" in kill.text
    stale = alert_for(breach(RiskRule.STALE_DATA, "12.5", "10", BreachAction.PAUSE), M)
    assert stale is not None and "12.5 s > limit 10 s" in stale.text
    assert alert_for(ev(EventKind.RISK, code="new_day", message="UTC day rollover"), M) is None
    cleared = alert_for(ev(EventKind.RISK, code="auto_resume", message="causes cleared"), M)
    assert cleared is not None and not cleared.critical
    assert cleared.text == "✅ ushark-mm · USHARK/USDT: auto resume: causes cleared"


def test_error_alerts_merge_by_code_and_quiet_notes_are_skipped() -> None:
    api = alert_for(ev(EventKind.ERROR, Severity.ERROR, code="create_failed", message="503"), M)
    assert api is not None and api.kind is NotifyKind.ERROR and not api.critical
    assert api.text == "⚠️ ushark-mm · USHARK/USDT: API error create_failed: 503"
    assert api.key == "error:ushark-mm:create_failed"
    unconfirmed = alert_for(
        ev(EventKind.ERROR, Severity.CRITICAL, code="cancel_unconfirmed", message="x"), M
    )
    assert unconfirmed is not None and unconfirmed.critical and unconfirmed.key is None
    down = alert_for(
        ev(EventKind.ERROR, Severity.WARNING, code="stream_down", stream="book", message="eof"), M
    )
    assert down is not None and down.text == "📡 ushark-mm · USHARK/USDT: book stream down: eof"
    up = alert_for(ev(EventKind.WARNING, code="stream_up", stream="book"), M)
    assert up is not None and "back up" in up.text and up.key == down.key
    orphans = alert_for(
        ev(EventKind.WARNING, Severity.WARNING, code="orphans_cancelled", count=3, message="m"), M
    )
    assert orphans is not None and orphans.text.endswith("(3)")
    assert alert_for(ev(EventKind.WARNING, code="order_skipped", message="budget"), M) is None
    assert alert_for(ev(EventKind.ORDER, status="NEW"), M) is None
    assert alert_for(ev(EventKind.STATUS, state="RUNNING"), M) is None
    assert alert_for(ev(EventKind.FILL, side="buy"), M) is None  # digested, not alerted


def test_volume_milestone_and_cap_alerts() -> None:
    milestone = alert_for(
        ev(EventKind.VOLUME, milestone=50, done_quote=Decimal("2500"), target_quote="5000"), M
    )
    assert milestone is not None and not milestone.critical
    assert milestone.kind is NotifyKind.VOLUME
    assert milestone.text == (
        "📈 ushark-mm · USHARK/USDT: volume program at 50 % of today's target\n"
        "2,500.00 USDT of 5,000.00 USDT"
    )
    cap = alert_for(
        ev(
            EventKind.VOLUME,
            Severity.WARNING,
            cap="max_daily_notional",
            done_quote=Decimal("7500.4"),
            limit=Decimal("7500"),
            reason="max_daily_notional reached: 7500.4 >= 7500",
        ),
        M,
    )
    assert cap is not None and cap.critical
    assert "stopped for today: max_daily_notional reached" in cap.text
    assert "done 7,500.40 USDT (cap 7,500.00 USDT)" in cap.text
    assert alert_for(ev(EventKind.VOLUME, code="new_day"), M) is None
    # The shapes agent/volume_runner.py emits.
    runner_milestone = alert_for(
        ev(EventKind.VOLUME, code="milestone", milestone=25, done=Decimal("1250.5"), target=5000),
        M,
    )
    assert runner_milestone is not None
    assert runner_milestone.text.endswith(
        "at 25 % of today's target\n1,250.50 USDT of 5,000.00 USDT"
    )
    runner_cap = alert_for(
        ev(
            EventKind.VOLUME,
            Severity.WARNING,
            code="cap",
            cap="max_daily_loss hit: lost 25.3 > 25",
            message="volume program disabled for the rest of the UTC day: ...",
            done=Decimal("812.5"),
        ),
        M,
    )
    assert runner_cap is not None and runner_cap.critical
    assert runner_cap.text == (
        "🛑 ushark-mm · USHARK/USDT: volume program stopped for today: "
        "max_daily_loss hit: lost 25.3 > 25\ndone 812.50 USDT"
    )
    assert alert_for(ev(EventKind.VOLUME, Severity.DEBUG, code="skip", message="x"), M) is None


# ---------------------------------------------------------------------- digest, status, report


def test_fill_digest_counts_sides_volume_fees_and_averages() -> None:
    d = FillDigest()
    fills = [
        ("buy", "0.0020", "10000", "0.02", "USDT", "maker"),
        ("buy", "0.0019", "10000", "0.019", "USDT", "maker"),
        ("sell", "0.0021", "5000", "5", "USHARK", "taker"),
    ]
    for side, price, amount, fee, asset, liq in fills:
        d.add(
            {
                "side": side,
                "price": Decimal(price),
                "amount": Decimal(amount),
                "fee": Decimal(fee),
                "fee_asset": asset,
                "liquidity": liq,
            }
        )
    assert d.count == 3
    assert d.format(M, 60) == (
        "💱 ushark-mm · USHARK/USDT: 3 fills in 1 min\n"
        "bought 20,000 USHARK for 39.00 USDT (2 fills, avg 0.00195 USDT)\n"
        "sold 5,000 USHARK for 10.50 USDT (1 fill, avg 0.0021 USDT)\n"
        "volume 49.50 USDT · fees 0.039 USDT + 5 USHARK · maker 2/3"
    )


STATUS: dict[str, Any] = {
    "state": "RUNNING",
    "state_reason": "quoting",
    "killed": False,
    "mid": Decimal("0.0020005"),
    "spread": Decimal("0.000009"),
    "open_bids": 10,
    "open_asks": 9,
    "base": Decimal("2500000"),
    "quote": Decimal("5000"),
    "base_share_pct": Decimal("50.0123"),
    "inventory_target_base_pct": Decimal(50),
    "pnl_today_quote": Decimal("1.234"),
    "pnl_quote": Decimal("7.5"),
    "volume_quote": Decimal("1234.5"),
    "fills": 57,
    "fees_quote": Decimal("1.2345"),
    "quote_uptime_pct": 99.123,
}


def test_status_text() -> None:
    assert format_status(M, STATUS) == (
        "▶️ ushark-mm · USHARK/USDT: RUNNING (quoting)\n"
        "mid 0.0020005 USDT · spread 0.000009 USDT · orders 10 bids / 9 asks\n"
        "inventory 2,500,000 USHARK + 5,000.00 USDT · 50 % in USHARK (target 50 %)\n"
        "PnL today +1.23 USDT · since start +7.50 USDT\n"
        "volume 1,234.50 USDT in 57 fills · fees 1.23 USDT · quoting 99.1 % of running time"
    )


def test_next_report_time_is_the_next_occurrence_in_utc() -> None:
    day = datetime(2026, 11, 24, tzinfo=UTC).timestamp()
    assert next_report_at(day, "00:05") == day + 300
    assert next_report_at(day + 300, "00:05") == day + 86400 + 300  # strictly after
    assert next_report_at(day + 301, "00:05") == day + 86400 + 300
    assert next_report_at(day + 3600 * 23, "23:59") == day + 86340


def test_daily_report_has_volume_fees_pnl_inventory_uptime_and_breaches() -> None:
    now = datetime(2026, 11, 24, 0, 5, tzinfo=UTC).timestamp()
    tally = Tally(since=now - 86400, pnl_start=Decimal("3.5"))
    tally.add_fill(
        {"price": "0.002", "amount": "10000", "fee": "0.02", "fee_asset": "USDT"}, "USDT"
    )
    tally.add_fill({"price": "0.002", "amount": "5000", "fee": "5", "fee_asset": "USHARK"}, "USDT")
    tally.add_breach({"rule": "price_deviation", "action": "PAUSE"})
    tally.add_breach({"rule": "price_deviation", "action": "PAUSE"})
    tally.add_breach({"rule": "daily_loss", "action": "STOP"})
    text = format_daily_report(M, STATUS, tally, now=now, agent_up_seconds=93784)
    assert text == (
        "📊 Daily report 2026-11-24 00:05 UTC · ushark-mm · USHARK/USDT\n"
        "state RUNNING · quoting 99.1 % of running time · agent up 1 d 2 h\n"
        "last 1 d 0 h: 2 fills, volume 30.00 USDT, fees 0.03 USDT\n"
        "PnL +4.00 USDT · since bot start +7.50 USDT · total volume 1,234.50 USDT\n"
        "inventory 2,500,000 USHARK + 5,000.00 USDT · 50 % in USHARK (target 50 %)\n"
        "breaches: 3 (price_deviation → PAUSE ×2, daily_loss → STOP)"
    )
    quiet = format_daily_report(M, None, Tally(since=now - 60), now=now, agent_up_seconds=60)
    assert "bot no longer on this agent" in quiet and "breaches: none" in quiet


# ---------------------------------------------------------------------- queue


def test_full_queue_drops_oldest_routine_and_counts() -> None:
    q = OutboundQueue(capacity=3)
    for i in range(5):
        q.push(Outgoing(f"r{i}"))
    q.push(Outgoing("c0", critical=True))
    assert q.dropped == 3 and len(q) == 3
    batch = q.pop_batch()
    assert batch is not None
    assert batch.text.split("\n\n") == ["c0", "r3", "r4"]
    assert batch.critical and batch.items == 3


def test_criticals_are_never_shed_for_routine_alerts() -> None:
    q = OutboundQueue(capacity=2)
    for i in range(4):
        q.push(Outgoing(f"c{i}", critical=True))
    q.push(Outgoing("late routine"))
    assert q.dropped == 1 and q.dropped_critical == 0
    batch = q.pop_batch()
    assert batch is not None and batch.text.split("\n\n") == ["c0", "c1", "c2", "c3"]


def test_same_key_merges_and_batches_split_at_the_size_limit() -> None:
    q = OutboundQueue()
    for i in range(4):
        q.push(Outgoing(f"timeout {i}", key="error:x:timeout", silent=True))
    q.push(Outgoing("other", silent=True))
    batch = q.pop_batch()
    assert batch is not None and batch.text == "timeout 3 (×4)\n\nother" and batch.silent
    assert q.merged == 3
    for i in range(3):
        q.push(Outgoing(str(i) * 40))
    first = q.pop_batch(max_chars=90)
    assert first is not None and first.items == 2
    second = q.pop_batch(max_chars=90)
    assert second is not None and second.text == "2" * 40
    assert q.pop_batch() is None
    q.push(Outgoing("x" * 5000))
    huge = q.pop_batch()
    assert huge is not None and len(huge.text) == 4096 and huge.text.endswith("…")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from([None, "a", "b"])), max_size=80))
def test_queue_bounds_and_accounting(pushes: list[tuple[bool, str | None]]) -> None:
    q = OutboundQueue(capacity=7, critical_capacity=20)
    for i, (critical, key) in enumerate(pushes):
        q.push(Outgoing(f"{i}", critical=critical, key=key))
        assert len(q) <= max(7, min(20, sum(c for c, _ in pushes[: i + 1])))
    out: list[str] = []
    while (batch := q.pop_batch()) is not None:
        out.extend(batch.text.split("\n\n"))
    criticals = [str(i) for i, (c, _) in enumerate(pushes) if c]
    # Criticals are only ever shed past critical_capacity (oldest first); they go out first.
    assert out[: min(len(criticals), 20)] == criticals[-20:]
    assert q.dropped_critical == max(0, len(criticals) - 20)
    assert len(out) + q.dropped + q.dropped_critical + q.merged == len(pushes)


# ---------------------------------------------------------------------- pacing


def test_pacer_spacing_window_and_retry_after() -> None:
    p = ChatPacer(RateLimit(min_interval=1.0, per_window=3, window=60.0))
    assert p.delay(0.0) == 0
    p.record(0.0)
    assert p.delay(0.5) == 0.5
    p.record(1.0)
    p.record(2.0)
    assert p.delay(3.0) == 57.0  # three in the window: wait for the first to age out
    assert p.delay(60.0) == 0
    p.block_until(100.0)
    assert p.delay(60.0) == 40.0
