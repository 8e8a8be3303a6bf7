"""`mmbot agent serve`: bad input refused before anything happens; a clean shutdown cancels
orders but keeps each bot's recorded state, so a restart resumes it."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import yaml

from agent.serve import halt_bots
from tests.test_grpc_helpers import (
    ENV_BASE,
    USHARK,
    AgentProcess,
    cli,
    ctl_inproc,
    live_agent,
    spawn_agent,
    stop_agent,
    wait_for,
)


async def test_halt_cancels_every_order_and_records_no_state_change(tmp_path: Path) -> None:
    async with live_agent(tmp_path / "d") as agent:
        h = agent.host.bots["ushark-mm"]
        await wait_for(lambda: h.bot.om is not None and sum(h.bot.om.live_counts()) >= 10)
        last = agent.host.bus.last_seq
        assert await halt_bots(agent.host) == {"ushark-mm": True}
        await asyncio.sleep(0.5)  # long enough for a re-quote, had the bot kept deciding
        assert await h.venue.fetch_open_orders(h.bot.symbol) == []
        assert h.bot.state.value == "RUNNING"
        assert agent.host.journal.bots()["ushark-mm"][0] == "RUNNING"
        states = agent.host.journal.events(last, 10_000, kinds=["state"])
        assert states == []


def _serve(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli("agent", "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data), *args),
        capture_output=True,
        text=True,
        env=ENV_BASE,
        timeout=30,
    )


def _example(**changes: dict[str, object]) -> str:
    doc = yaml.safe_load(USHARK.read_text())
    for block, fields in changes.items():
        doc[block].update(fields)
    return yaml.safe_dump(doc)


def test_bad_input_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = tmp_path / "bad.yaml"
    bad.write_text(_example(market_making={"levels_up": 1000}))
    r = _serve(data, "--config", str(bad))
    assert r.returncode == 2 and "market_making.levels_up: must be <= 100" in r.stderr
    other = tmp_path / "gate.yaml"
    other.write_text(_example(bot={"venue": "nosuchvenue"}))
    r = _serve(data, "--config", str(other))
    assert r.returncode == 2 and "bot.venue" in r.stderr
    r = _serve(data, "--scenario", "no-such-scenario")
    assert r.returncode == 2 and "scenario" in r.stderr
    r = _serve(data, "--listen", "nonsense")
    assert r.returncode == 2 and "--listen" in r.stderr
    assert not data.exists()


def _state(agent_proc: AgentProcess) -> str:
    r = ctl_inproc(agent_proc, "info", "--json")
    assert r.returncode == 0, r.stderr
    return str(json.loads(r.stdout)["bots"][0]["state"])


def test_restart_resumes_the_recorded_state(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = spawn_agent(data, "--config", str(USHARK))
    token = first.token_file.read_text()
    assert _state(first) == "RUNNING"
    assert ctl_inproc(first, "pause").returncode == 0
    assert stop_agent(first) == 0
    assert "orders cancelled for shutdown; state stays PAUSED" in first.logs()

    second = spawn_agent(data, "--config", str(USHARK))  # --config is ignored now
    assert "already in the journal" in second.logs()
    assert second.token_file.read_text() == token
    assert _state(second) == "PAUSED"
    assert ctl_inproc(second, "resume").returncode == 0
    assert stop_agent(second) == 0
    assert "state stays RUNNING" in second.logs()

    third = spawn_agent(data)
    try:
        assert _state(third) == "RUNNING"
        events = json.loads(
            ctl_inproc(third, "events", "--kind", "state", "--from-seq", "0", "--json").stdout
        )["events"]
        tos = [e["to"] for e in events]
        assert "STOPPED" not in tos, "a restart must not be recorded as a stop"
        assert tos[-1] == "RUNNING"
    finally:
        assert stop_agent(third) == 0


def test_taken_port_or_busy_data_dir_fail_before_any_bot_starts(tmp_path: Path) -> None:
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        r = _serve(tmp_path / "a", "--listen", f"127.0.0.1:{port}", "--config", str(USHARK))
    assert r.returncode == 1 and f"error: cannot listen on 127.0.0.1:{port}" in r.stderr
    assert "added bot" not in r.stderr and "Traceback" not in r.stderr
    data = tmp_path / "b"
    first = spawn_agent(data)
    try:
        r = _serve(data)
        assert r.returncode == 1 and "another agent is running" in r.stderr
    finally:
        assert stop_agent(first) == 0
