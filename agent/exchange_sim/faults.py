"""Faults a test (or a rehearsing user) switches on to see how a client copes.

Set through the admin API (`POST /_sim/faults` with a JSON object of these fields, loopback
only) or a faults file given to `mmbot exchange-sim --faults FILE`. Counters are consumed as
the affected requests arrive. Every field is documented in docs/exchange-sim.md.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

ORDER_PATHS = re.compile(r"^/api/v4/spot/(orders|batch_orders)$")


@dataclass(slots=True)
class Faults:
    stall_book: bool = False
    """No order book pushes (`spot.obu`, `spot.order_book_update`, `spot.order_book`): the
    feed goes silent while the connection, pings and other channels stay up."""

    stall_ws: bool = False
    """No pushes at all on any WebSocket (a hung gateway); pings are still answered."""

    book_gap_next: int = 0
    """Skip this many book deltas while counting their ids, so clients see `U != u + 1`."""

    rest_delay_ms: float = 0.0
    """Added to every REST answer (after processing)."""

    rest_fail_next: int = 0
    """The next REST calls answer `rest_fail_status` before doing anything."""

    rest_fail_status: int = 502

    rest_timeout_next: int = 0
    """The next REST calls hang for `hang_seconds` before doing anything (then 504), so the
    client times out and the request had no effect."""

    accept_then_timeout_next: int = 0
    """The next order-creating calls (POST /spot/orders, /spot/batch_orders) ARE executed,
    but the answer is held for `hang_seconds`: the outcome-unknown case."""

    hang_seconds: float = 30.0

    reject_next_orders: int = 0
    """The next orders (single or batch items) are refused with `reject_label`."""

    reject_label: str = "INVALID_PARAM_VALUE"

    burst_limit: int = 0
    """When > 0: more than this many private requests within `burst_window_ms` get 429."""

    burst_window_ms: float = 100.0

    storm_429_until: float = 0.0
    """Epoch seconds until which every REST request answers 429 TOO_MANY_REQUESTS."""

    paths: str = ""
    """Regex on the request path: when set, the REST faults above apply only to matches."""

    def update(self, data: dict[str, Any]) -> None:
        known = {f.name: f for f in fields(self)}
        for key, value in data.items():
            if key not in known:
                raise ValueError(f"unknown fault {key!r}; known: {', '.join(sorted(known))}")
            current = getattr(self, key)
            try:
                if isinstance(current, bool):
                    if not isinstance(value, bool):
                        raise TypeError
                    setattr(self, key, value)
                elif isinstance(current, int):
                    setattr(self, key, int(value))
                elif isinstance(current, float):
                    setattr(self, key, float(value))
                else:
                    setattr(self, key, str(value))
            except (TypeError, ValueError):
                raise ValueError(
                    f"fault {key}: {value!r} is not a {type(current).__name__}"
                ) from None
        if self.paths:
            re.compile(self.paths)

    def applies(self, path: str) -> bool:
        return not self.paths or re.search(self.paths, path) is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def take(obj: Faults, name: str) -> bool:
        """Consume one unit of a counter fault; True if it fired."""
        n = getattr(obj, name)
        if n > 0:
            setattr(obj, name, n - 1)
            return True
        return False
