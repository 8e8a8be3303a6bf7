"""`mmbot controlplane migrate | serve | user add` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT

ENV = {k: v for k, v in os.environ.items() if not k.startswith("MMBOT_")}


def mmbot(*args: str, data_dir: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`mmbot controlplane ...` in this process (same code, no interpreter start); `serve`
    itself runs as a real process below."""
    from typer.testing import CliRunner

    from mmbot.cli import app

    res = CliRunner().invoke(
        app,
        ["controlplane", *args],
        env={"MMBOT_DATA_DIR": str(data_dir), "MMBOT_DATABASE_URL": None, "MMBOT_SECRET_KEY": None},
        input=stdin,
    )
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return subprocess.CompletedProcess(args, res.exit_code, res.stdout, res.stderr)


def test_serve_refuses_an_unmigrated_database_then_migrate_and_serve(tmp_path: Path) -> None:
    r = mmbot("serve", "--listen", "127.0.0.1:0", data_dir=tmp_path)
    assert r.returncode == 1
    assert "no mmbot schema yet" in r.stderr and "mmbot controlplane migrate" in r.stderr
    r = mmbot("migrate", "--json", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["from"] is None and json.loads(r.stdout)["to"]
    assert "already current" in mmbot("migrate", data_dir=tmp_path).stdout
    r = mmbot("user", "add", "ops", "--role", "operator", data_dir=tmp_path)
    assert r.returncode == 0 and "password: " in r.stdout
    password = r.stdout.rsplit("password: ", 1)[1].strip()
    assert mmbot("user", "add", "ops", data_dir=tmp_path).returncode == 1  # exists
    assert mmbot("user", "add", "x", "--role", "god", data_dir=tmp_path).returncode == 2
    assert mmbot("serve", "--listen", "nonsense", data_dir=tmp_path).returncode == 2

    proc = subprocess.Popen(
        [sys.executable, "-m", "mmbot.cli", "controlplane", "serve", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**ENV, "MMBOT_DATA_DIR": str(tmp_path)},
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:"), line
        base = line.split()[-1]
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "control plane did not answer"
            time.sleep(0.1)
        tok = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "ops", "password": password}
        ).json()["access_token"]
        r2 = httpx.get(f"{base}/api/v1/bots", headers={"Authorization": f"Bearer {tok}"})
        assert r2.status_code == 200 and r2.json() == []
        docs = httpx.get(f"{base}/api/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        if proc.stdout is not None:
            proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()
    assert proc.returncode == 0
