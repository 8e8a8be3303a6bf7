"""`mmbot demo --headless`: the whole embedded stack (agent + control plane) as a smoke test."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from tests.simrun import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _demo(data: Path, seconds: int) -> dict[str, object]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mmbot.cli",
            "demo",
            "--headless",
            "--duration",
            str(seconds),
            "--json",
            "--data-dir",
            str(data),
            "--agent-port",
            str(_free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_headless_demo_trades_archives_and_continues(tmp_path: Path) -> None:
    out = _demo(tmp_path, 12)
    assert out["symbol"] == "USHARK/USDT" and out["venue"] == "sim"
    assert int(out["orders_placed"]) > 0  # type: ignore[call-overload]
    assert out["open_orders_after_stop"] == 0
    assert out["controlplane"] == {"agents_online": 1, "bots": 1}
    password = (tmp_path / "admin.password").read_text().strip()
    assert len(password) >= 12 and (tmp_path / "admin.password").stat().st_mode & 0o077 == 0
    assert (tmp_path / "agent" / "journal.sqlite").exists()
    # A second run reuses the data dir: same password, the bot continues from its journal.
    again = _demo(tmp_path, 8)
    assert (tmp_path / "admin.password").read_text().strip() == password
    assert again["state"] == "RUNNING"
