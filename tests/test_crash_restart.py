"""Crash-restart: `mmbot agent serve` trading on `mmbot exchange-sim` (its own process, so the
venue keeps its state) is killed with SIGKILL at random moments and restarted each time.
Afterwards the journal's fills equal the venue's fill history exactly and no order of the bot
is left open on the venue that the bot does not track.

MMBOT_CRASH_RUNS sets the number of kills (default 20).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from agent.clock import Clock
from agent.config import load_config
from agent.venues.ccxt_venue import Credentials, make_ccxt_venue
from tests.simrun import ROOT

RUNS = int(os.environ.get("MMBOT_CRASH_RUNS", "20"))
KEY, SECRET = "crashkey", "crashsecret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_line(proc: subprocess.Popen[str], needle: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if needle in line:
            return line
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"{needle!r} not seen (exit {proc.poll()})")


def _mmbot(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mmbot.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )


def _wait_http(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("exchange-sim did not come up")


async def _venue_view(cfg_path: Path) -> tuple[set[tuple[str, str]], set[str]]:
    """The venue's fill history and open orders of our account, through ccxt."""
    cfg = load_config(cfg_path)
    venue = make_ccxt_venue(
        cfg, "gate", clock=Clock(asyncio.get_running_loop()), credentials=Credentials(KEY, SECRET)
    )
    await venue.start()
    try:
        fills = await venue.fetch_fills(cfg.bot.symbol, 0.0)
        open_orders = await venue.fetch_open_orders(cfg.bot.symbol)
    finally:
        await venue.close()
    return {(f.trade_id, str(f.amount)) for f in fills}, {o.client_order_id for o in open_orders}


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    xport = _free_port()
    env = {
        **os.environ,
        "MMBOT_GATE_API_KEY": KEY,
        "MMBOT_GATE_API_SECRET": SECRET,
        "MMBOT_DATA_DIR": str(tmp_path / "data"),
    }
    env.pop("MMBOT_GATE_URL", None)
    sim = _mmbot(
        "exchange-sim",
        "--venue",
        "gate",
        "--listen",
        f"127.0.0.1:{xport}",
        "--account",
        f"{KEY}:{SECRET}",
        "--balances",
        "USDT=10000,USHARK=5000000",
        "--scenario",
        "volatile",
        "--seed",
        "5",
        env=env,
    )
    try:
        _wait_http(xport)
        data = yaml.safe_load((ROOT / "examples" / "ushark-gate.yaml").read_text())
        data["bot"]["venue_url"] = f"http://127.0.0.1:{xport}"
        cfg_path = tmp_path / "bot.yaml"
        cfg_path.write_text(yaml.safe_dump(data))
        data_dir = tmp_path / "data"
        rng = random.Random(20261124)
        for i in range(RUNS + 1):
            agent = _mmbot(
                "agent",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                str(data_dir),
                "--config",
                str(cfg_path),
                env=env,
            )
            try:
                _wait_line(agent, "listening on", 60)
                if i < RUNS:
                    time.sleep(rng.uniform(0.5, 4.0))
                    agent.send_signal(signal.SIGKILL)
                else:
                    time.sleep(6)  # the last life reconciles, trades a little, then stops cleanly
                    agent.send_signal(signal.SIGTERM)
                agent.wait(timeout=60)
            finally:
                if agent.poll() is None:
                    agent.kill()
                    agent.wait()
        venue_fills, venue_open = asyncio.run(_venue_view(cfg_path))
        db = sqlite3.connect(data_dir / "journal.sqlite")
        journal_fills = {(t, a) for t, a in db.execute("SELECT trade_id, amount FROM fills")}
        tracked_open = {
            r[0]
            for r in db.execute(
                "SELECT client_order_id FROM orders "
                "WHERE status NOT IN ('FILLED','CANCELED','REJECTED')"
            )
        }
        db.close()
        assert venue_fills, "the bot must have traded"
        assert journal_fills == venue_fills  # none lost, none duplicated
        assert venue_open <= tracked_open  # nothing open that the bot does not track
        assert venue_open == set()  # and the clean stop left nothing behind
    finally:
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(timeout=20)
        except subprocess.TimeoutExpired:
            sim.kill()
            pytest.fail("exchange-sim did not stop")
