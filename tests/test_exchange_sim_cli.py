"""`mmbot exchange-sim` as a user starts it: a real process, a real port, clean exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

MMBOT = [sys.executable, "-m", "mmbot.cli"]
ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MMBOT, "exchange-sim", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def test_usage_errors_exit_2() -> None:
    assert _run("--venue", "binance", "--account", "K:S").returncode == 2
    assert _run().returncode == 2  # no --account
    assert _run("--account", "nosecret").returncode == 2
    assert _run("--account", "K:S", "--balances", "USDT=lots").returncode == 2
    assert _run("--account", "K:S", "--listen", "nowhere").returncode == 2
    bad = _run("--account", "K:S", "--scenario", "no-such-scenario")
    assert bad.returncode == 2 and "built-in" in bad.stderr


def test_serves_gate_and_stops_on_sigterm() -> None:
    secret = "cli-secret-never-printed"
    proc = subprocess.Popen(
        [
            *MMBOT,
            "exchange-sim",
            "--listen",
            "127.0.0.1:0",
            "--account",
            f"K:{secret}",
            "--balances",
            "USDT=10000,USHARK=2000000",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        info = json.loads(line)
        assert info["venue"] == "gate" and info["accounts"] == ["K"]
        assert info["websocket"].endswith("/ws/v4/")
        with urllib.request.urlopen(info["rest"] + "/spot/time", timeout=5) as r:
            assert abs(json.load(r)["server_time"] / 1000 - time.time()) < 5
        with urllib.request.urlopen(info["rest"] + "/spot/currency_pairs", timeout=5) as r:
            assert json.load(r)[0]["id"] == "USHARK_USDT"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert secret not in line + out + err
