"""Seeding a bot's live view while the event stream runs must not undo newer events.

The link re-reads a bot's status and open orders (a seed) when it connects and again, while
the stream is running, when the agent's list of bots changes. An event the stream applies
while that snapshot is on its way (a new order going PENDING_NEW -> OPEN after a config apply)
is newer than the snapshot; before the fix the seed put the older status back, and since the
event was already applied nothing ever corrected it: the order stayed PENDING_NEW in the
control plane while the agent had it OPEN.
"""

from __future__ import annotations

import copy
from itertools import cycle
from pathlib import Path
from typing import Any

import pytest

from controlplane.live.view import BotLive, LiveEvent
from controlplane.models import Agent
from controlplane.runtime import ControlPlane
from controlplane.schemas import ConfigIn
from controlplane.services import configs
from tests.controlplane.agents import bot_id, register
from tests.controlplane.conftest import new_tenant, wait_until
from tests.test_grpc_helpers import live_agent


def _order(seq: int, coid: str, status: str) -> LiveEvent:
    data = {"client_order_id": coid, "side": "buy", "price": "1", "amount": "2"}
    return LiveEvent(1, seq, float(seq), "order", "b", "debug", {**data, "status": status}, 1)


def test_seed_replays_what_was_applied_while_the_snapshot_was_in_flight() -> None:
    view = BotLive(bot_id=1, agent_id=1, tenant_id=1, name="b")
    view.seed({"state": "RUNNING"}, [], as_of_seq=10)
    view.begin_seed()  # the link asks for a new snapshot as of seq >= 12 ...
    view.apply(_order(11, "a", "PENDING_NEW"))
    view.apply(_order(12, "b", "PENDING_NEW"))
    # ... which the agent takes now: a and b are PENDING_NEW there
    snapshot = [dict(_order(0, c, "PENDING_NEW").data) for c in ("a", "b")]
    view.apply(_order(13, "a", "OPEN"))  # newer than the snapshot, applied before the seed
    view.apply(_order(14, "b", "CANCELED"))
    view.apply(LiveEvent(1, 15, 15.0, "state", "b", "info", {"to": "PAUSED", "reason": "x"}, 1))
    view.seed({"state": "RUNNING"}, snapshot, as_of_seq=12)
    assert {c: o["status"] for c, o in view.open_orders.items()} == {"a": "OPEN"}
    assert view.state == "PAUSED" and view.status["state"] == "PAUSED"
    assert view.last_seq == 15
    view.apply(_order(15, "a", "CANCELED"))  # already applied: not again
    view.apply(_order(16, "a", "FILLED"))
    assert view.open_orders == {}


def test_event_fed_orders_keep_their_creation_time() -> None:
    """Order events carry no creation time; the console's age column needs one: the time of
    the order's first event, kept through its later events."""
    view = BotLive(bot_id=1, agent_id=1, tenant_id=1, name="b")
    view.seed({"state": "RUNNING"}, [{**_order(0, "s", "OPEN").data, "created_at": 3.0}], 4)
    view.apply(_order(5, "a", "PENDING_NEW"))
    view.apply(_order(7, "a", "OPEN"))
    view.apply(_order(9, "s", "PARTIALLY_FILLED"))
    assert view.open_orders["a"]["created_at"] == 5.0
    assert view.open_orders["s"]["created_at"] == 3.0


def test_seed_without_begin_replays_nothing() -> None:
    """The first seed of a session has no stream running yet: the snapshot is the picture."""
    view = BotLive(bot_id=1, agent_id=1, tenant_id=1, name="b")
    view.apply(_order(5, "a", "OPEN"))
    view.seed({"state": "RUNNING"}, [], as_of_seq=7)
    assert view.open_orders == {} and view.last_seq == 7


async def test_reseed_during_a_config_apply_keeps_the_newer_order_states(
    cp: ControlPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real agent, real link and stream. The agent answers the open-orders request while the
    bot's new orders are PENDING_NEW; the link gets that answer only after the stream has
    applied what happened next (the interleaving of a slow answer, made certain here)."""
    tenant = await new_tenant(cp)
    async with live_agent(tmp_path / "agent") as agent:
        agent_id = await register(cp, tenant, agent)
        bid = await bot_id(cp, agent_id)
        link = cp.links.links[agent_id]
        await wait_until(lambda: bid in cp.live.bots and cp.live.bots[bid].open_orders)
        view = cp.live.bots[bid]
        conn = link.conn
        assert conn is not None
        base = (await configs.get_config(cp, tenant.who, bid, 1)).config
        spreads = cycle(["0.6", "0.4"])
        real_open_orders = conn.open_orders
        seen: dict[str, Any] = {}

        moved_on = (None, "PENDING_NEW")  # None: not streamed to the view yet

        def state_in_view(coid: str) -> str | None:
            o = view.open_orders.get(coid)
            return None if o is None else str(o["status"])

        async def late_answer(bot: str) -> list[dict[str, Any]]:
            for _ in range(20):
                cfg = copy.deepcopy(base)
                cfg["market_making"]["spread_min_pct"] = next(spreads)
                await configs.submit_config(cp, tenant.who, bid, ConfigIn(config=cfg))
                answer = await real_open_orders(bot)
                pending = [o["client_order_id"] for o in answer if o["status"] == "PENDING_NEW"]
                if pending:
                    break
            else:
                pytest.fail("the agent never answered while new orders were PENDING_NEW")
            # the stream brings the venue's answer (OPEN) for at least one of them
            await wait_until(lambda: any(state_in_view(c) not in moved_on for c in pending))
            seen["newer"] = {c: s for c in pending if (s := state_in_view(c)) not in moved_on}
            return answer

        real_seed = view.seed

        def seed(*args: Any, **kw: Any) -> None:
            real_seed(*args, **kw)
            # right here: the link goes on awaiting, and the stream moves the view further
            seen["seeded"] = {c: state_in_view(c) for c in seen["newer"]}

        monkeypatch.setattr(conn, "open_orders", late_answer)
        monkeypatch.setattr(view, "seed", seed)
        async with cp.session() as s:
            row = await s.get(Agent, agent_id)
        assert row is not None
        # what the status poll does when the agent's list of bots changed
        await link._mirror(conn, row, await conn.info())
        assert seen["seeded"] == seen["newer"], "the seed put an older order status back"


def test_a_poll_answered_before_a_state_event_does_not_put_the_old_state_back() -> None:
    view = BotLive(bot_id=1, agent_id=1, tenant_id=1, name="b")
    view.seed({"state": "RUNNING"}, [], as_of_seq=3)
    asked_at = view.state_seq  # the link sends GetStatus; the agent answers RUNNING ...
    view.apply(LiveEvent(1, 4, 4.0, "state", "b", "info", {"to": "PAUSED", "reason": "op"}, 1))
    view.refresh_status({"state": "RUNNING", "mid": "1.5"}, asked_at_seq=asked_at)
    assert view.state == "PAUSED" and view.status["state"] == "PAUSED"
    assert view.status["mid"] == "1.5"  # the rest of the document is taken
    # a poll sent after the event takes the agent's state as usual
    view.refresh_status({"state": "STOPPED"}, asked_at_seq=view.state_seq)
    assert view.state == "STOPPED"
