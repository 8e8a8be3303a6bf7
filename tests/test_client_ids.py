"""Client order ids and the slot-setter constructors the decision path uses: both were made
faster for the engine's latency, so both are pinned against plain reference implementations."""

from __future__ import annotations

import copy
import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.client_ids import ClientIdFactory, bot_prefix
from agent.model import OrderRequest, Side, TimeInForce, slot_init
from agent.venues import gate

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def reference_b36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = ALPHABET[r] + out
        if n == 0:
            return out


def reference_ids(bot: str, start_ms: int, count: int) -> list[str]:
    """The format as documented: prefix + base36(start_ms * 64 + k), k = 1, 2, ..."""
    return [bot_prefix(bot) + reference_b36(start_ms * 64 + k) for k in range(1, count + 1)]


@pytest.mark.parametrize(
    "start_ms",
    [0, 1, 20, 21, 1_700_000_000_000, 2_000_000_000_000, (36**7) // 64 - 1, (36**8) // 64 - 3],
)
def test_ids_match_the_documented_format_across_digit_and_block_boundaries(start_ms: int) -> None:
    f = ClientIdFactory("ushark-mm", start_ms)
    got = [f.next() for _ in range(3000)]  # more than one 36**2 block
    assert got == reference_ids("ushark-mm", start_ms, 3000)
    assert len(set(got)) == len(got)
    for cid in got[:50] + got[-50:]:
        assert len(cid) <= 24 and f.owns(cid)
        gate.to_text(cid)  # fits Gate's t- + 28 chars rule


@given(st.integers(min_value=0, max_value=4_000_000_000_000), st.integers(1, 1500))
def test_any_start_time_gives_the_reference_sequence(start_ms: int, count: int) -> None:
    f = ClientIdFactory("b", start_ms)
    assert [f.next() for _ in range(count)] == reference_ids("b", start_ms, count)


def test_a_restart_a_millisecond_later_never_repeats_an_id() -> None:
    first = ClientIdFactory("b", 1_700_000_000_000)
    used = {first.next() for _ in range(63)}  # 64 ids per millisecond of uptime
    second = ClientIdFactory("b", 1_700_000_000_001)
    assert not used & {second.next() for _ in range(100)}


@slot_init
@dataclasses.dataclass(frozen=True, slots=True)
class _Sample:
    a: int
    b: Decimal = Decimal(1)
    c: list[int] = dataclasses.field(default_factory=list)


def test_slot_init_keeps_the_dataclass_contract() -> None:
    s = _Sample(1)
    assert (s.a, s.b, s.c) == (1, Decimal(1), [])
    assert _Sample(1).c is not s.c  # a fresh default per instance
    assert _Sample(a=2, c=[3], b=Decimal("0.5")) == _Sample(2, Decimal("0.5"), [3])
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.a = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        _Sample()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _Sample(1, Decimal(1), [], 4)  # type: ignore[call-arg]
    assert dataclasses.replace(s, a=9).a == 9 and copy.copy(s) == s
    req = OrderRequest("c1", "X/Y", Side.BUY, Decimal("0.1"), Decimal(10), TimeInForce.POST_ONLY)
    assert req.post_only and hash(req) == hash(dataclasses.replace(req))


def test_slot_init_runs_post_init_and_refuses_what_it_cannot_mirror() -> None:
    seen: list[int] = []

    @slot_init
    @dataclasses.dataclass(frozen=True, slots=True)
    class WithPost:
        x: int

        def __post_init__(self) -> None:
            seen.append(self.x)

    WithPost(7)
    assert seen == [7]
    with pytest.raises(TypeError):

        @slot_init
        @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
        class KwOnly:
            x: int

    with pytest.raises(TypeError):

        @slot_init
        @dataclasses.dataclass(frozen=True)
        class NoSlots:
            x: int
