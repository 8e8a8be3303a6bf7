"""Per-chat send pacing that stays inside Telegram's limits.

Telegram answers 429 (flood control) when a bot sends more than about one message per second to
one chat or more than 20 per minute to a group. Pacing ourselves below that means alerts are
merged while we wait instead of being refused, and a 429's `retry_after` blocks the chat for as
long as Telegram asks. Time is passed in (the loop's monotonic time), so this is pure and works
on the virtual-time loop too.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateLimit:
    min_interval: float = 1.0  # seconds between two messages to one chat
    per_window: int = 20  # at most this many messages ...
    window: float = 60.0  # ... in any window of this many seconds

    def __post_init__(self) -> None:
        if self.min_interval < 0 or self.per_window < 1 or self.window <= 0:
            raise ValueError("min_interval >= 0, per_window >= 1 and window > 0 are required")


class ChatPacer:
    """When the next message to one chat may go out."""

    def __init__(self, limit: RateLimit | None = None) -> None:
        self.limit = limit or RateLimit()
        self._sent: deque[float] = deque(maxlen=self.limit.per_window)
        self._blocked_until = float("-inf")

    def delay(self, now: float) -> float:
        """Seconds to wait before the next message may be sent (0 when it may go now)."""
        lim = self.limit
        at = self._blocked_until
        if self._sent:
            at = max(at, self._sent[-1] + lim.min_interval)
            if len(self._sent) == lim.per_window:
                at = max(at, self._sent[0] + lim.window)
        return max(0.0, at - now)

    def record(self, now: float) -> None:
        """A message was delivered to the chat at `now`."""
        self._sent.append(now)

    def block_until(self, until: float) -> None:
        """Telegram said 'retry after': nothing goes to this chat before `until`."""
        self._blocked_until = max(self._blocked_until, until)
