"""Risk: pre-trade veto/clip and continuous breach detection (pure; see docs/risk.md)."""

from agent.risk.engine import RiskEngine
from agent.risk.rules import (
    Breach,
    Decision,
    PreTradeContext,
    RiskRule,
    RuleState,
    RuleStatus,
    SlidingCount,
    utc_day,
    utc_day_start,
)

__all__ = [
    "Breach",
    "Decision",
    "PreTradeContext",
    "RiskEngine",
    "RiskRule",
    "RuleState",
    "RuleStatus",
    "SlidingCount",
    "utc_day",
    "utc_day_start",
]
