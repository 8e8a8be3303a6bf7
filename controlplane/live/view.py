"""Live views: the latest known picture of each agent and bot, kept in memory.

A bot's view is seeded from the agent (full status and open orders when the link connects)
and then moved forward by archived events only, so the view never shows something the archive
does not hold. Views are plain data; `snapshot()` gives JSON-able dicts (Decimals as strings,
as the agent sent them).

A seed is a snapshot taken at some seq at or after `as_of_seq`; every event after `as_of_seq`
is (re)applied on top of it, in order. Events that reach the view while the snapshot is being
fetched are applied before the seed replaces the picture, so the view records them from
`begin_seed()` on and replays them in `seed()`; otherwise a seed taken while the stream runs
could put back an order's older status (PENDING_NEW) after its newer one (OPEN) was applied,
and nothing would ever correct it.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

TERMINAL_ORDER_STATUSES = frozenset({"FILLED", "CANCELED", "REJECTED"})
STATUS_FIELDS = (
    "state",
    "mid",
    "spread",
    "open_bids",
    "open_asks",
    "base",
    "quote",
    "pnl_quote",
    "fills",
    "volume_quote",
)
RECENT_FILLS = 50
RECENT_EVENTS = 100
QUIET_KINDS = frozenset({"status", "order"})  # too frequent for the "recent events" list
STATE_KINDS = frozenset({"state", "status", "order", "config"})  # kinds that move the picture
# Events recorded while a seed is in flight (a few RPCs long); a bound for a seed that never
# completes (the link failed half-way), which the next begin_seed() resets.
SEED_RECORD_MAX = 20_000


@dataclass(slots=True)
class LiveEvent:
    """An archived agent event, as the live view and subscribers see it. (Not frozen: the
    writer makes thousands a second, and a frozen dataclass costs several times more to build.)
    Treat it as read-only."""

    agent_id: int
    seq: int
    at: float
    kind: str
    bot: str
    severity: str
    data: dict[str, Any]
    bot_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "bot_id": self.bot_id,
            "seq": self.seq,
            "at": self.at,
            "kind": self.kind,
            "bot": self.bot,
            "severity": self.severity,
            "data": self.data,
        }


@dataclass
class BotLive:
    bot_id: int
    agent_id: int
    tenant_id: int
    name: str
    state: str = ""
    state_reason: str = ""
    status: dict[str, Any] = field(default_factory=dict)
    open_orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    recent_fills: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT_FILLS))
    recent_events: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=RECENT_EVENTS)
    )
    last_seq: int = 0
    updated_at: float | None = None
    state_seq: int = 0  # seq of the last event that set the lifecycle state
    # state-moving events applied since begin_seed(), None when no seed is in flight
    _seeding: deque[LiveEvent] | None = field(default=None, init=False, repr=False)

    def begin_seed(self) -> None:
        """Call before asking the agent for the snapshot that `seed()` will install: from now
        on the events applied to the view are kept, so the seed can re-apply the ones that
        are newer than the snapshot's `as_of_seq`."""
        self._seeding = deque(maxlen=SEED_RECORD_MAX)

    def seed(
        self, status: dict[str, Any], open_orders: list[dict[str, Any]], as_of_seq: int
    ) -> None:
        """Replace the picture with the agent's own, taken when its last seq was `as_of_seq`
        or later. Older events (the backlog the stream replays) then only go to the archive;
        newer ones move the view forward again, in order, so it converges on the present:
        those still to come through `apply()`, and those applied since `begin_seed()` (while
        the snapshot was in flight) right here."""
        recorded, self._seeding = self._seeding, None
        self.status = dict(status)
        self.state = str(status.get("state", self.state))
        self.state_reason = str(status.get("state_reason", self.state_reason))
        self.open_orders = {o["client_order_id"]: o for o in open_orders}
        for ev in recorded or ():
            if ev.seq > as_of_seq:
                self._move(ev)
        self.last_seq = max(self.last_seq, as_of_seq)
        self.updated_at = time.time()

    def seed_recent(self, fills: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
        """Recent fills and events from the archive, newest first."""
        self.recent_fills = deque(fills[:RECENT_FILLS], maxlen=RECENT_FILLS)
        self.recent_events = deque(events[:RECENT_EVENTS], maxlen=RECENT_EVENTS)

    def refresh_status(self, status: dict[str, Any], *, asked_at_seq: int | None = None) -> None:
        """Take a polled status document. `asked_at_seq` is `state_seq` when the poll was
        sent: a lifecycle event applied since is newer than the document's state, which then
        does not put the older state back (the next poll would, 5 s later)."""
        self.status = dict(status)
        if asked_at_seq is not None and self.state_seq > asked_at_seq:
            self.status["state"], self.status["state_reason"] = self.state, self.state_reason
        else:
            self.state = str(status.get("state", self.state))
            self.state_reason = str(status.get("state_reason", self.state_reason))
        self.updated_at = time.time()

    def apply(self, ev: LiveEvent) -> None:
        """Move the view forward by one archived event. State (lifecycle, status, open
        orders) moves only for events newer than the seed; the recent fills and events lists
        take every event newer than what they hold, so a backlog replayed after an outage
        still shows up there."""
        d = ev.data
        if ev.kind == "fill" and (
            not self.recent_fills or ev.seq > int(self.recent_fills[0].get("seq", 0))
        ):
            self.recent_fills.appendleft({"seq": ev.seq, "at": ev.at, **d})
        if ev.kind not in QUIET_KINDS and (
            not self.recent_events or ev.seq > int(self.recent_events[0].get("seq", 0))
        ):
            self.recent_events.appendleft(
                {"seq": ev.seq, "at": ev.at, "kind": ev.kind, "severity": ev.severity, **d}
            )
        if ev.seq <= self.last_seq:
            return
        self.last_seq = ev.seq
        self.updated_at = ev.at
        if ev.kind in STATE_KINDS:
            self._move(ev)
            if self._seeding is not None:
                self._seeding.append(ev)

    def _move(self, ev: LiveEvent) -> None:
        """What one state-moving event does to the picture. Each event carries the whole new
        value (an order's full state, the new lifecycle state), so re-applying events in seq
        order over a snapshot that already holds some of them lands on the same picture."""
        d = ev.data
        if ev.kind == "state":
            self.state_seq = ev.seq
            self.state = str(d.get("to", self.state))
            self.state_reason = str(d.get("reason", ""))
            self.status["state"] = self.state
            self.status["state_reason"] = self.state_reason
        elif ev.kind == "status":
            for k in STATUS_FIELDS:
                if k in d:
                    self.status[k] = d[k]
            if "state" in d:
                self.state_seq = ev.seq
                self.state = str(d["state"])
        elif ev.kind == "order":
            coid = str(d.get("client_order_id", ""))
            if d.get("status") in TERMINAL_ORDER_STATUSES:
                self.open_orders.pop(coid, None)
            else:
                prev = self.open_orders.get(coid)
                order = {k: v for k, v in d.items() if k != "reason"}
                # Order events carry no creation time: the first event of an order (its
                # PENDING_NEW) is when it was created, for the console's "age" column.
                if "created_at" not in order:
                    order["created_at"] = prev.get("created_at", ev.at) if prev else ev.at
                self.open_orders[coid] = order
        elif ev.kind == "config" and "version" in d:
            self.status["config_version"] = d["version"]

    def snapshot(self) -> dict[str, Any]:
        st = self.status
        return {
            "state": self.state,
            "state_reason": self.state_reason,
            "status": st,
            "balances": st.get("balances"),
            "risk": st.get("risk"),
            "volume": st.get("volume"),
            "ladder": st.get("ladder"),
            "book": st.get("book"),
            "open_orders": sorted(self.open_orders.values(), key=_ladder_order),
            "recent_fills": list(self.recent_fills),
            "recent_events": list(self.recent_events),
            "last_seq": self.last_seq,
            "updated_at": self.updated_at,
        }


def _ladder_order(order: dict[str, Any]) -> tuple[str, Decimal]:
    """Buys then sells, each by price as a number ("10" > "9", unlike text)."""
    try:
        price = Decimal(str(order.get("price")))
    except (InvalidOperation, ValueError):
        price = Decimal(0)
    return str(order.get("side")), price if price.is_finite() else Decimal(0)


@dataclass
class AgentLive:
    agent_id: int
    tenant_id: int
    name: str
    online: bool = False
    last_seen: float | None = None
    connected_since: float | None = None
    version: str = ""
    error: str = ""
    archived_seq: int = 0

    def snapshot(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "online": self.online,
            "last_seen": self.last_seen,
            "connected_since": self.connected_since,
            "version": self.version,
            "error": self.error,
            "archived_seq": self.archived_seq,
        }


class LiveState:
    """All live views of this control plane process, by id."""

    def __init__(self) -> None:
        self.agents: dict[int, AgentLive] = {}
        self.bots: dict[int, BotLive] = {}

    def agent(self, agent_id: int, tenant_id: int, name: str) -> AgentLive:
        a = self.agents.get(agent_id)
        if a is None:
            a = self.agents[agent_id] = AgentLive(agent_id, tenant_id, name)
        return a

    def bot(self, bot_id: int, agent_id: int, tenant_id: int, name: str) -> BotLive:
        b = self.bots.get(bot_id)
        if b is None:
            b = self.bots[bot_id] = BotLive(bot_id, agent_id, tenant_id, name)
        return b

    def drop_agent(self, agent_id: int) -> None:
        self.agents.pop(agent_id, None)
        for bid in [b for b, v in self.bots.items() if v.agent_id == agent_id]:
            del self.bots[bid]
