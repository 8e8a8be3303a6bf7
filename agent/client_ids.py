"""Client order ids: a stable per-bot prefix so a restarted agent recognises its own orders.

Format: `mm<6 hex of the bot name>-<base36 counter seeded from the start time>`, at most 24
chars of [0-9a-z-], which fits every venue we know (Gate: `t-` + <= 28 chars).
"""

from __future__ import annotations

import hashlib

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def bot_prefix(bot_name: str) -> str:
    return "mm" + hashlib.sha256(bot_name.encode()).hexdigest()[:6] + "-"


def _b36(n: int) -> str:
    out = []
    while True:
        n, r = divmod(n, 36)
        out.append(_ALPHABET[r])
        if n == 0:
            return "".join(reversed(out))


class ClientIdFactory:
    """Unique ids across restarts: the counter starts at the start time in milliseconds."""

    def __init__(self, bot_name: str, start_ms: int) -> None:
        self.prefix = bot_prefix(bot_name)
        self._next = start_ms * 64

    def next(self) -> str:
        self._next += 1
        return self.prefix + _b36(self._next)

    def owns(self, client_order_id: str) -> bool:
        return client_order_id.startswith(self.prefix)
