"""Events: everything that happens gets a per-agent sequence number and goes to subscribers.

The same events feed `--events-out`, the journal and (later) the gRPC stream. A sink that must
see an event before anyone else (the journal) is registered with `durable=True`.
"""

from __future__ import annotations

import contextlib
import enum
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TextIO

from agent.model import slot_setters


class EventKind(enum.StrEnum):
    STATE = "state"
    ORDER = "order"
    FILL = "fill"
    RISK = "risk"
    VOLUME = "volume"
    ERROR = "error"
    STATUS = "status"
    CONFIG = "config"
    WARNING = "warning"


class Severity(enum.StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    at: float
    kind: EventKind
    bot: str
    severity: Severity
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "seq": self.seq,
            "at": round(self.at, 6),
            "kind": self.kind.value,
            "bot": self.bot,
            "severity": self.severity.value,
        }
        out.update(self.data)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=json_default, separators=(",", ":"))


# Hot path: `emit_data` builds the event inline with the slot setters (see
# agent.model.slot_init: half the cost of the frozen dataclass __init__, and no call of
# Event(...) either, one event per order action). Same fields, same values, still frozen.
_new_event = object.__new__
_SET_SEQ, _SET_AT, _SET_KIND, _SET_BOT, _SET_SEVERITY, _SET_DATA = slot_setters(Event)


def json_default(o: Any) -> Any:
    """JSON for our value types: Decimals as strings (exact), enums as their value."""
    if isinstance(o, Decimal):
        return str(o)
    if isinstance(o, enum.Enum):
        return o.value
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


Subscriber = Callable[[Event], None]


class EventBus:
    """Assigns sequence numbers and fans events out, durable sinks first."""

    def __init__(self, now: Callable[[], float], first_seq: int = 1) -> None:
        self._now = now
        self._next_seq = first_seq
        self._durable: list[Subscriber] = []
        self._subscribers: list[Subscriber] = []
        self._batch: list[Event] | None = None

    @property
    def last_seq(self) -> int:
        return self._next_seq - 1

    def subscribe(self, fn: Subscriber, *, durable: bool = False) -> Callable[[], None]:
        target = self._durable if durable else self._subscribers
        target.append(fn)
        return lambda: target.remove(fn)

    def emit(
        self,
        kind: EventKind,
        bot: str,
        severity: Severity = Severity.INFO,
        **data: Any,
    ) -> Event:
        return self.emit_data(kind, bot, severity, data)

    def emit_data(
        self, kind: EventKind, bot: str, severity: Severity, data: dict[str, Any]
    ) -> Event:
        """`emit` with the data already in a dict (taken as is, not copied): the hot path."""
        seq = self._next_seq
        at = self._now()
        ev: Event = _new_event(Event)  # = Event(seq, at, kind, bot, severity, data), faster
        _SET_SEQ(ev, seq)
        _SET_AT(ev, at)
        _SET_KIND(ev, kind)
        _SET_BOT(ev, bot)
        _SET_SEVERITY(ev, severity)
        _SET_DATA(ev, data)
        self._next_seq = seq + 1
        batch = self._batch
        if batch is not None:
            batch.append(ev)
            return ev
        for fn in self._durable:
            fn(ev)  # a failing durable sink must stop the world: nothing is lost silently
        for fn in list(self._subscribers):
            fn(ev)
        return ev

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Collect the events emitted inside, then write them to the durable sinks in one go
        (one journal transaction for a whole ladder) before publishing them, in order."""
        if self._batch is not None:
            yield  # nested: the outer batch flushes
            return
        self._batch = []
        try:
            yield
        finally:
            events, self._batch = self._batch, None
            if events:
                for fn in self._durable:
                    many = getattr(fn, "write_many", None)
                    if many is not None:
                        many(events)
                    else:
                        for ev in events:
                            fn(ev)
                for ev in events:
                    for sub in list(self._subscribers):
                        sub(ev)


class JsonLinesSink:
    """`--events-out FILE`: one JSON object per line, in seq order."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __call__(self, ev: Event) -> None:
        self._stream.write(ev.to_json())
        self._stream.write("\n")
