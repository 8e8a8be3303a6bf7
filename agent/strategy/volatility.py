"""Rolling realized volatility of the mid, which sets how wide the grid quotes.

Book updates arrive at irregular times, so the estimator is time-normalized: it sums squared
log returns over the window and divides by the time they span (realized variance per second),
instead of assuming one sample per fixed interval. Floats are fine here: this is statistics
feeding a spread choice, and it becomes a Decimal once, in ``grid.pick_spread_pct``.
"""

from __future__ import annotations

import math
from collections import deque
from decimal import Decimal

__all__ = ["RollingVolatility"]


class RollingVolatility:
    """Realized volatility of a price over the last ``window_seconds``, in % per minute.

    ``add`` is O(1) amortized: each return enters and leaves the window once, and the sum of
    squared returns is kept incrementally. Only changes of the price are stored as returns; an
    unchanged price just advances the clock (quiet time still counts as time).
    """

    __slots__ = (
        "_first_at",
        "_last_at",
        "_last_log",
        "_returns",
        "_sum_sq",
        "min_returns",
        "window",
    )

    def __init__(self, window_seconds: float, min_returns: int = 2) -> None:
        if not window_seconds > 0:
            raise ValueError("window_seconds must be > 0")
        self.window = float(window_seconds)
        self.min_returns = max(1, min_returns)
        self._returns: deque[tuple[float, float]] = deque()  # (at, squared log return)
        self._sum_sq = 0.0
        self._first_at: float | None = None
        self._last_at = 0.0
        self._last_log = 0.0

    def add(self, at: float, price: Decimal | float) -> None:
        """Feed one observation (typically the mid on a book update).

        Non-positive or non-finite prices are ignored; a timestamp older than the last one is
        treated as "now" so a clock hiccup cannot create negative elapsed time.
        """
        p = float(price)
        if not (p > 0.0 and math.isfinite(p)):
            return
        lp = math.log(p)
        if self._first_at is None:
            self._first_at = self._last_at = at
            self._last_log = lp
            return
        if at > self._last_at:
            self._last_at = at
        if lp != self._last_log:
            r = lp - self._last_log
            sq = r * r
            self._returns.append((self._last_at, sq))
            self._sum_sq += sq
            self._last_log = lp
        self._evict()

    def _evict(self) -> None:
        horizon = self._last_at - self.window
        q = self._returns
        while q and q[0][0] <= horizon:
            self._sum_sq -= q.popleft()[1]
        if not q:
            self._sum_sq = 0.0  # drop accumulated rounding error whenever the window empties

    def pct_per_minute(self) -> float:
        """Volatility in % per minute; 0.0 until at least ``min_returns`` returns are known."""
        if len(self._returns) < self.min_returns or self._first_at is None:
            return 0.0
        span = min(self.window, self._last_at - self._first_at)
        if span <= 0.0 or self._sum_sq <= 0.0:
            return 0.0
        return math.sqrt(self._sum_sq / span * 60.0) * 100.0

    def __len__(self) -> int:
        return len(self._returns)
