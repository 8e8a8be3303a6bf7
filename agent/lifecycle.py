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


def allowed_commands(state: BotState) -> frozenset[str]:
    """The lifecycle commands the bot accepts in `state`, from the table above (what a console
    offers; the bot still checks each command itself). cancel-all and kill are always allowed."""
    out = {"cancel-all", "kill"}
    if state in (B.INIT, B.STOPPED):
        out.add("start")
    if B.PAUSED in TRANSITIONS[state]:
        out.add("pause")
    if B.RUNNING in TRANSITIONS[state]:
        out.add("resume")
    if B.STOPPED in TRANSITIONS[state]:
        out.add("stop")
    return frozenset(out)


class InvalidCommand(Exception):
    """A lifecycle command that is not allowed in the current state."""


def check(src: BotState, dst: BotState, what: str) -> None:
    if dst not in TRANSITIONS[src]:
        allowed = ", ".join(sorted(TRANSITIONS[src])) or "none"
        raise InvalidCommand(
            f"cannot {what} while {src.value} (allowed from {src.value}: {allowed})"
        )
