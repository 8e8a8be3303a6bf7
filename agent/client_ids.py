"""Client order ids: a stable per-bot prefix so a restarted agent recognises its own orders.

Format: `mm<6 hex of the bot name>-<base36 counter seeded from the start time>`, at most 24
chars of [0-9a-z-], which fits every venue we know (Gate: `t-` + <= 28 chars).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
# The last two base-36 digits, zero-padded: "00", "01", ..., "zz" (36**2 of them).
_TAILS = tuple(a + b for a in _ALPHABET for b in _ALPHABET)
_BLOCK = len(_TAILS)


def bot_prefix(bot_name: str) -> str:
    return "mm" + hashlib.sha256(bot_name.encode()).hexdigest()[:6] + "-"


def _b36(n: int) -> str:
    out = []
    while True:
        n, r = divmod(n, 36)
        out.append(_ALPHABET[r])
        if n == 0:
            return "".join(reversed(out))


def _ids(prefix: str, last: int) -> Iterator[str]:
    """prefix + _b36(n) for n = last + 1, last + 2, ...

    On the order path (one id per order): for n >= 36**2, _b36(n) is _b36(n // 36**2) followed
    by the two zero-padded digits of n % 36**2, so the head is converted once per 1296 ids and
    each id is a single concatenation (the divmod loop costs ~1 us an id). Lazily, one id at a
    time: no batch of precomputed ids lands on one decision.
    """
    n = last + 1
    while n < _BLOCK:  # only for a start time within the first ~20 ms of the epoch
        yield prefix + _b36(n)
        n += 1
    hi, lo = divmod(n, _BLOCK)
    while True:
        head = prefix + _b36(hi)
        for tail in _TAILS[lo:]:
            yield head + tail
        hi += 1
        lo = 0


class ClientIdFactory:
    """Unique ids across restarts: the counter starts at the start time in milliseconds."""

    def __init__(self, bot_name: str, start_ms: int) -> None:
        self.prefix = bot_prefix(bot_name)
        # The next id, `prefix + base36(counter)`, counter = start_ms * 64 + 1, + 2, ...: the
        # generator's own __next__, bound once (no method call on top of resuming it).
        self.next: Callable[[], str] = _ids(self.prefix, start_ms * 64).__next__

    def owns(self, client_order_id: str) -> bool:
        return client_order_id.startswith(self.prefix)
