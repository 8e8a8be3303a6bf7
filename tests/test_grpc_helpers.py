"""Shared pieces for the gRPC, ctl and security tests: a real agent in-process or as a process.

In-process: the AgentHost with a sim bot on the real clock and the grpc.aio server on
127.0.0.1:<free port>, on the test's own event loop (as `agent serve` runs them). Subprocess:
`python -m mmbot.cli agent serve`, with the port read from its "listening on" line.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agent.clock import Clock
from agent.config import load_config
from agent.credentials import CredentialStore
from agent.host import AgentHost
from agent.serve import halt_bots, make_venue
from agent.service import client
from agent.service.address import ListenAddress
from agent.service.server import AgentServer, SecurityPlan
from agent.venues.sim import load_scenario
from tests.conftest import ROOT

USHARK = ROOT / "examples" / "ushark.yaml"
TOKEN = "test-token-0123456789abcdef"


@dataclass
class LiveAgent:
    host: AgentHost
    server: AgentServer
    credentials: CredentialStore
    data_dir: Path
    token: str
    channels: list[Any] = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def stub(self, tls: client.ClientTls | None = None, *, target: str | None = None) -> Any:
        ch = client.aio_channel(target or self.target, tls)
        self.channels.append(ch)
        return client.stub(ch)

    @property
    def md(self) -> tuple[tuple[str, str], ...]:
        return client.metadata(self.token)


@asynccontextmanager
async def live_agent(
    data_dir: Path,
    *,
    bot: bool = True,
    security: SecurityPlan | None = None,
    token: str = TOKEN,
    halt: bool = False,
) -> AsyncIterator[LiveAgent]:
    """`halt=True` ends like `agent serve` does (cancel orders, keep state); slower."""
    clock = Clock(asyncio.get_running_loop())
    creds = CredentialStore(data_dir)
    scenario = load_scenario("calm")

    def factory(cfg: Any, c: Clock) -> Any:
        return make_venue(cfg, c, scenario=scenario, seed=1, credentials=creds)

    host = AgentHost(data_dir, clock, factory, seed=1)
    await host.load()
    if bot and not host.bots:
        await host.add_bot(load_config(USHARK))
    server = AgentServer(
        host,
        creds,
        token=token,
        security=security or SecurityPlan(),
        listen=ListenAddress("127.0.0.1", 0),
    )
    await server.start()
    agent = LiveAgent(host, server, creds, data_dir, token)
    try:
        yield agent
    finally:
        for ch in agent.channels:
            await ch.close()
        await server.stop(0)
        if halt:
            await halt_bots(host)
        await host.close()


async def wait_for(pred: Any, timeout: float = 10.0, every: float = 0.05) -> None:
    """Poll `pred()` (sync) until true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        await asyncio.sleep(every)


def emit_fill(host: AgentHost, n: int, price: str = "0.0020001") -> None:
    """A synthetic fill through the real bus and journal (the calm sim fills slowly)."""
    from agent.events import EventKind, Severity

    host.bus.emit(
        EventKind.FILL,
        "ushark-mm",
        Severity.INFO,
        client_order_id=f"test-{n}",
        trade_id=f"t-{n}",
        side="buy",
        price=Decimal(price),
        amount=Decimal(1000 + n),
        fee=Decimal("0.001"),
        fee_asset="USDT",
        liquidity="maker",
    )


# ---------------------------------------------------------------- subprocess agent

ENV_BASE = {k: v for k, v in os.environ.items() if not k.startswith("MMBOT_")}
# Hermetic defaults: never the operator's real ~/.local/share/mmbot/agent.
ENV_BASE["MMBOT_DATA_DIR"] = str(Path(tempfile.gettempdir()) / "mmbot-tests-no-data-dir")


@dataclass
class AgentProcess:
    proc: subprocess.Popen[str]
    address: str
    data_dir: Path
    stderr_path: Path

    @property
    def token_file(self) -> Path:
        return self.data_dir / "agent.token"

    def logs(self) -> str:
        return self.stderr_path.read_text()


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mmbot.cli", *args]


def spawn_agent(
    data_dir: Path, *args: str, timeout: float = 20.0, env: dict[str, str] | None = None
) -> AgentProcess:
    """Start `mmbot agent serve` and wait for its 'listening on' line."""
    data_dir.mkdir(parents=True, exist_ok=True)
    err_path = data_dir.parent / f"{data_dir.name}.stderr.log"
    err = err_path.open("w")
    proc = subprocess.Popen(
        cli(
            "agent",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            str(data_dir),
            "--grace",
            "0.5",
            *args,
        ),
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
        env={**ENV_BASE, **(env or {})},
        cwd=ROOT,
    )
    err.close()
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sel.select(0.1):
            line = proc.stdout.readline()
            if line.startswith("listening on "):
                return AgentProcess(proc, line.split()[-1], data_dir, err_path)
            if not line and proc.poll() is not None:
                break
    proc.kill()
    proc.wait()
    raise AssertionError(f"agent did not start: {err_path.read_text()}")


def stop_agent(agent: AgentProcess, timeout: float = 15.0) -> int:
    if agent.proc.poll() is None:
        agent.proc.send_signal(signal.SIGTERM)
    try:
        return agent.proc.wait(timeout)
    finally:
        if agent.proc.poll() is None:
            agent.proc.kill()
            agent.proc.wait()
        if agent.proc.stdout is not None:
            agent.proc.stdout.close()


@contextmanager
def running_agent(data_dir: Path, *args: str) -> Iterator[AgentProcess]:
    agent = spawn_agent(data_dir, *args)
    try:
        yield agent
    finally:
        stop_agent(agent)


def run_ctl(
    agent: AgentProcess | str, *args: str, token_file: Path | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    address = agent if isinstance(agent, str) else agent.address
    env = dict(ENV_BASE)
    if token_file is None and not isinstance(agent, str):
        token_file = agent.token_file
    if token_file is not None:
        env["MMBOT_AGENT_TOKEN_FILE"] = str(token_file)
    return subprocess.run(
        cli("ctl", "--agent", address, *args),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        input=stdin,
        timeout=30,
    )


def ctl_inproc(
    agent: AgentProcess | str, *args: str, token_file: Path | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`mmbot ctl` in this process (same code, no interpreter start): for the many calls whose
    exit codes the subprocess tests already cover."""
    from typer.testing import CliRunner

    from mmbot.cli import app

    address = agent if isinstance(agent, str) else agent.address
    env = dict(ENV_BASE)
    if token_file is None and not isinstance(agent, str):
        token_file = agent.token_file
    if token_file is not None:
        env["MMBOT_AGENT_TOKEN_FILE"] = str(token_file)
    res = CliRunner().invoke(app, ["ctl", "--agent", address, *args], env=env, input=stdin)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return subprocess.CompletedProcess(args, res.exit_code, res.stdout, res.stderr)
