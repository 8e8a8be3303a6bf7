"""Who is looking at the console, and the control plane the pages talk to.

The session token from `services.auth.login` lives in NiceGUI's per-browser user storage
(server side, keyed by a signed cookie); every page re-authenticates it through the service
layer, so a logout or an expired session takes effect on the next page load.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from nicegui import app

from controlplane.runtime import ControlPlane
from controlplane.services import auth
from controlplane.services.errors import Unauthorized
from controlplane.services.principal import Principal

TOKEN_KEY = "session_token"
USERNAME_KEY = "username"


class _Holder:
    cp: ControlPlane | None = None


_holder = _Holder()


def set_control_plane(cp: ControlPlane) -> None:
    _holder.cp = cp


def control_plane() -> ControlPlane:
    if _holder.cp is None:
        raise RuntimeError("the console is not attached to a control plane (ui.console.attach)")
    return _holder.cp


async def principal() -> Principal | None:
    """The signed-in user, or None (no session, or it was revoked or expired)."""
    token = app.storage.user.get(TOKEN_KEY)
    if not isinstance(token, str) or not token:
        return None
    try:
        return await auth.authenticate(control_plane(), token)
    except Unauthorized:
        app.storage.user.pop(TOKEN_KEY, None)
        return None


def store_session(token: str, username: str) -> None:
    app.storage.user[TOKEN_KEY] = token
    app.storage.user[USERNAME_KEY] = username


def clear_session() -> None:
    app.storage.user.pop(TOKEN_KEY, None)


@dataclass
class LoginLimiter:
    """At most `attempts` failed logins per key (username and client address) per `window`
    seconds. Guessing passwords through the console then costs minutes, not milliseconds."""

    attempts: int = 5
    window: float = 300.0
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def retry_after(self, keys: list[str], now: float | None = None) -> float:
        """Seconds until another attempt is allowed (0 when it is allowed now)."""
        now = time.monotonic() if now is None else now
        wait = 0.0
        for k in keys:
            q = self._recent(k, now)
            if len(q) >= self.attempts:
                wait = max(wait, self.window - (now - q[0]))
        return wait

    def failed(self, keys: list[str], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for k in keys:
            self._recent(k, now).append(now)
        if len(self._failures) > 10000:  # bound memory under a spray of usernames
            for k in [k for k, q in self._failures.items() if not q]:
                del self._failures[k]

    def succeeded(self, keys: list[str]) -> None:
        for k in keys:
            self._failures.pop(k, None)


limiter = LoginLimiter()
