"""Notifications: Telegram alerts and commands for the agent's bots (see docs/telegram.md).

The pure parts (message texts, the outbound queue, pacing, the daily report) import nothing
heavy; `agent.notify.telegram` (TelegramNotifier, send_test_message) pulls in
python-telegram-bot and httpx, so import it only where the notifier actually runs.
"""

from agent.notify.messages import DEFAULT_LEVELS, KIND_NAMES, Alert, Market, NotifyKind, alert_for
from agent.notify.queue import Batch, OutboundQueue, Outgoing
from agent.notify.ratelimit import ChatPacer, RateLimit

__all__ = [
    "DEFAULT_LEVELS",
    "KIND_NAMES",
    "Alert",
    "Batch",
    "ChatPacer",
    "Market",
    "NotifyKind",
    "OutboundQueue",
    "Outgoing",
    "RateLimit",
    "alert_for",
]
