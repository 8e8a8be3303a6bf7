"""The order and bot state tables: allowed transitions pass, everything else is an error."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent import lifecycle
from agent.lifecycle import BotState, InvalidCommand
from agent.model import Side
from agent.orders import TERMINAL, TRANSITIONS, IllegalTransition, OrderState, TrackedOrder


def _order() -> TrackedOrder:
    return TrackedOrder("c1", "A/B", Side.BUY, Decimal(1), Decimal(2), True, 0.0)


@given(st.lists(st.sampled_from(list(OrderState)), max_size=12))
def test_order_walks_follow_the_table(path: list[OrderState]) -> None:
    o = _order()
    for dst in path:
        src = o.state
        if dst in TRANSITIONS[src]:
            assert o.transition(dst, 1.0) is src
            assert o.state is dst
        else:
            with pytest.raises(IllegalTransition):
                o.transition(dst, 1.0)
            assert o.state is src  # an illegal transition changes nothing


def test_terminal_states_have_no_exit() -> None:
    assert {OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED} == TERMINAL
    o = _order()
    o.transition(OrderState.OPEN, 1)
    o.transition(OrderState.CANCELED, 2)
    with pytest.raises(IllegalTransition, match="CANCELED -> OPEN"):
        o.transition(OrderState.OPEN, 3)
    assert [h[2] for h in o.history] == [OrderState.OPEN, OrderState.CANCELED]


def test_lifecycle_table_matches_the_spec() -> None:
    t = lifecycle.TRANSITIONS
    assert BotState.SYNC_BALANCES in t[BotState.INIT]
    assert BotState.START_QUOTING in t[BotState.SYNC_BALANCES]
    assert BotState.RUNNING in t[BotState.START_QUOTING]
    assert BotState.PAUSED in t[BotState.RUNNING] and BotState.RUNNING in t[BotState.PAUSED]
    for s in BotState:
        if s is not BotState.STOPPED:
            assert BotState.ERROR in t[s] or s is BotState.ERROR
    for s in (BotState.PAUSED, BotState.ERROR, BotState.RUNNING):
        assert BotState.STOPPED in t[s]


def test_resume_while_stopped_is_refused_with_reason() -> None:
    with pytest.raises(InvalidCommand, match="cannot resume while STOPPED"):
        lifecycle.check(BotState.STOPPED, BotState.RUNNING, "resume")


def test_allowed_commands_follow_the_lifecycle_table() -> None:
    allowed = lifecycle.allowed_commands
    assert allowed(BotState.RUNNING) == {"pause", "stop", "cancel-all", "kill"}
    assert allowed(BotState.PAUSED) == {"resume", "stop", "cancel-all", "kill"}
    assert allowed(BotState.STOPPED) == {"start", "cancel-all", "kill"}
    assert allowed(BotState.ERROR) == {"stop", "cancel-all", "kill"}
    # every command offered is one the table accepts: none would be refused for the state
    for state in BotState:
        for cmd, dst in (("pause", BotState.PAUSED), ("stop", BotState.STOPPED)):
            if cmd in allowed(state):
                lifecycle.check(state, dst, cmd)
            else:
                with pytest.raises(InvalidCommand):
                    lifecycle.check(state, dst, cmd)
