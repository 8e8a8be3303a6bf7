"""The bot lifecycle: one transition table; an invalid command is refused with a reason."""

from __future__ import annotations

import enum


class BotState(enum.StrEnum):
    INIT = "INIT"
    SYNC_BALANCES = "SYNC_BALANCES"
    START_QUOTING = "START_QUOTING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    ERROR = "ERROR"
    STOPPED = "STOPPED"


B = BotState

TRANSITIONS: dict[BotState, frozenset[BotState]] = {
    B.INIT: frozenset({B.SYNC_BALANCES, B.ERROR, B.STOPPED}),
    B.SYNC_BALANCES: frozenset({B.START_QUOTING, B.ERROR, B.STOPPED}),
    B.START_QUOTING: frozenset({B.RUNNING, B.PAUSED, B.ERROR, B.STOPPED}),
    B.RUNNING: frozenset({B.PAUSED, B.ERROR, B.STOPPED}),
    B.PAUSED: frozenset({B.RUNNING, B.ERROR, B.STOPPED}),
    B.ERROR: frozenset({B.STOPPED}),
    B.STOPPED: frozenset({B.INIT}),  # an explicit restart
}


class InvalidCommand(Exception):
    """A lifecycle command that is not allowed in the current state."""


def check(src: BotState, dst: BotState, what: str) -> None:
    if dst not in TRANSITIONS[src]:
        allowed = ", ".join(sorted(TRANSITIONS[src])) or "none"
        raise InvalidCommand(
            f"cannot {what} while {src.value} (allowed from {src.value}: {allowed})"
        )
