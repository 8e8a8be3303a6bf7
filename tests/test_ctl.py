"""`mmbot ctl` against a real `mmbot agent serve` process: output, exit codes 0/1/2."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from mmbot.cli import app
from tests.test_grpc_helpers import (
    ENV_BASE,
    USHARK,
    AgentProcess,
    cli,
    ctl_inproc,
    run_ctl,
    running_agent,
)

BAD = """
bot: {name: ushark-mm, venue: sim, symbol: USHARK/USDT}
market_making:
  step_pct: -1
  levels_up: 101
"""


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    data = tmp_path_factory.mktemp("ctl") / "data"
    with running_agent(data, "--config", str(USHARK)) as a:
        yield a


def _ok(r: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert r.returncode == 0, r.stderr
    return r


def _one_line_error(r: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert r.returncode == code, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in r.stderr


def test_read_commands_print_json(agent: AgentProcess) -> None:
    info = json.loads(_ok(run_ctl(agent, "info", "--json")).stdout)  # a real process
    assert [b["name"] for b in info["bots"]] == ["ushark-mm"] and info["last_seq"] > 0
    status = json.loads(_ok(ctl_inproc(agent, "status", "--bot", "ushark-mm", "--json")).stdout)
    assert status["name"] == "ushark-mm" and isinstance(status["mid"], str)
    orders = json.loads(_ok(ctl_inproc(agent, "orders", "--all", "--limit", "5", "--json")).stdout)
    assert 0 < len(orders["orders"]) <= 5
    fills = json.loads(_ok(ctl_inproc(agent, "fills", "--json")).stdout)
    assert isinstance(fills["fills"], list)
    events = json.loads(
        _ok(ctl_inproc(agent, "events", "--from-seq", "0", "--kind", "state", "--json")).stdout
    )
    assert events["events"][0]["seq"] > 0 and {e["kind"] for e in events["events"]} == {"state"}
    shown = json.loads(_ok(ctl_inproc(agent, "config", "show", "--json")).stdout)
    assert shown["bot"] == "ushark-mm" and shown["config"]["bot"]["symbol"] == "USHARK/USDT"


def test_human_output(agent: AgentProcess) -> None:
    runner = CliRunner()
    env = {**ENV_BASE, "MMBOT_AGENT_TOKEN_FILE": str(agent.token_file)}
    base = ["ctl", "--agent", agent.address]
    for args, needle in (
        (["info"], "ushark-mm"),
        (["status"], "open orders"),
        (["orders"], "client order id"),
        (["fills"], "trade id"),
        (["events", "--limit", "3"], "ushark-mm"),
        (["config", "show"], "market_making:"),
        (["config", "validate", str(USHARK)], "ladder at mid"),
    ):
        r = runner.invoke(app, base + args, env=env)
        assert r.exit_code == 0, (args, r.output)
        assert needle in r.output, (args, r.output)
    shown = runner.invoke(app, [*base, "config", "show"], env=env).output
    assert yaml.safe_load(shown)["bot"]["name"] == "ushark-mm"


def test_lifecycle_commands_exit_codes(agent: AgentProcess) -> None:
    assert "PAUSED" in _ok(run_ctl(agent, "pause")).stdout
    _one_line_error(run_ctl(agent, "pause"), 1, "cannot pause while PAUSED")
    r = json.loads(_ok(ctl_inproc(agent, "resume", "--json")).stdout)
    assert r == {
        "bot": "ushark-mm",
        "command": "resume",
        "state": "RUNNING",
        "confirmed": True,
        "message": "",
    }
    _ok(ctl_inproc(agent, "stop"))
    _one_line_error(ctl_inproc(agent, "resume"), 1, "cannot resume while STOPPED")
    assert "RUNNING" in _ok(ctl_inproc(agent, "start")).stdout
    _one_line_error(ctl_inproc(agent, "status", "--bot", "nope"), 1, "no bot named")


def test_config_apply_bad_yaml_exits_2_with_field_errors(
    agent: AgentProcess, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    before = json.loads(_ok(ctl_inproc(agent, "config", "show", "--json")).stdout)
    for run in (run_ctl, ctl_inproc):  # apply in a real process, validate in-process
        r = run(agent, "config", "apply" if run is run_ctl else "validate", str(bad))
        assert r.returncode == 2, r.stderr
        assert r.stderr.startswith("invalid configuration:")
        assert "market_making.levels_up: must be <= 100" in r.stderr
        assert "market_making.step_pct: must be > 0" in r.stderr
    after = json.loads(_ok(ctl_inproc(agent, "config", "show", "--json")).stdout)
    assert after == before, "a refused config changed something"
    _one_line_error(ctl_inproc(agent, "config", "apply", str(tmp_path / "missing.yaml")), 2)


def test_config_apply_with_expected_version(agent: AgentProcess, tmp_path: Path) -> None:
    current = json.loads(_ok(ctl_inproc(agent, "config", "show", "--json")).stdout)["version"]
    doc = yaml.safe_load(USHARK.read_text())
    doc["market_making"]["levels_up"] = 8
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(doc))
    args = ("config", "apply", str(good), "--expected-version", str(current), "--json")
    applied = json.loads(_ok(ctl_inproc(agent, *args, "--comment", "eight up")).stdout)
    assert applied == {"bot": "ushark-mm", "version": current + 1}
    _one_line_error(ctl_inproc(agent, *args), 1, "aborted", f"version {current + 1}")


def test_unreachable_agent_and_token_problems(agent: AgentProcess, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        free = f"127.0.0.1:{s.getsockname()[1]}"
    _one_line_error(
        run_ctl(free, "info", token_file=agent.token_file), 1, "agent unreachable at " + free
    )
    _one_line_error(ctl_inproc(agent, "info", token_file=tmp_path / "none"), 2, "no agent token")
    wrong = tmp_path / "wrong.token"
    wrong.write_text("x" * 43)
    _one_line_error(ctl_inproc(agent, "info", token_file=wrong), 1, "wrong agent token")
    _one_line_error(
        ctl_inproc("10.255.255.1:50051", "info", token_file=agent.token_file), 2, "--ca"
    )


def test_events_follow_streams_live_events(agent: AgentProcess) -> None:
    env = {**ENV_BASE, "MMBOT_AGENT_TOKEN_FILE": str(agent.token_file)}
    last = json.loads(_ok(ctl_inproc(agent, "info", "--json")).stdout)["last_seq"]
    proc = subprocess.Popen(
        cli("ctl", "--agent", agent.address, "events", "--follow", "--json", "--kind", "state"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    out = proc.stdout

    def pump() -> None:  # select() cannot see lines already in the pipe's read buffer
        for line in out:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        seen: list[dict[str, Any]] = []

        def read_until(pred: Any) -> None:
            deadline = time.monotonic() + 15
            while not pred() and time.monotonic() < deadline:
                with contextlib.suppress(queue.Empty):
                    seen.append(json.loads(lines.get(timeout=0.2)))

        read_until(lambda: seen)  # the recent state events come first: it is connected
        _ok(ctl_inproc(agent, "pause"))
        _ok(ctl_inproc(agent, "resume"))
        read_until(lambda: any(e["seq"] > last and e.get("to") == "RUNNING" for e in seen))
        new = [e for e in seen if e["seq"] > last]
        assert [e["to"] for e in new] == ["PAUSED", "RUNNING"], seen
        seqs = [e["seq"] for e in seen]
        assert seqs == sorted(set(seqs)), "gap-free order without duplicates"
    finally:
        proc.terminate()
        proc.wait(10)
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()


def test_ctl_help_does_not_import_grpc() -> None:
    r = subprocess.run(
        [*cli("ctl", "--help")[:1], "-X", "importtime", *cli("ctl", "--help")[1:]],
        capture_output=True,
        text=True,
        env=ENV_BASE,
        timeout=30,
    )
    assert r.returncode == 0
    imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if "|" in line}
    heavy = {m for m in imported if m.split(".")[0] in ("grpc", "ccxt", "nicegui", "cryptography")}
    assert not heavy, heavy
