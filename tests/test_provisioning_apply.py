"""A real apply of the provisioning playbook: `mmbot provision` against a disposable Debian 12
VPS on this machine (debootstrap root, booted with systemd in its own network namespace,
reached over SSH; see provisioning/testing/nspawn_target.py).

Checked as an operator would: the first run (the CLI) installs everything and registers the
agent with the real control plane (`mmbot controlplane serve` on loopback, SQLite), whose link
then reaches the agent over mutual TLS; the second run is the console's "Add agent (provision a
VPS)" (`controlplane.services.provisioning`, in this process, on the served control plane's
database), streams its tasks one by one, changes nothing, and finds the agent registered;
the hardened unit runs and restarts after a crash, `mmbot ctl info` answers over mutual TLS from
the allowed address, the firewall drops the gRPC port for any other address, and no secret
appears in the command's output, Ansible's event files or the agent's journal.

Skipped, with the reason in the summary, only where the machine cannot run such a target (not
root, no debootstrap/systemd-nspawn, no way to fetch the Debian packages the first time).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "provisioning" / "testing"))
import nspawn_target  # noqa: E402

from controlplane.services import provisioning  # noqa: E402
from controlplane.services.provisioning import (  # noqa: E402
    Note,
    ProvisionOutcome,
    ProvisionRequest,
    StreamItem,
)
from mmbot import provision_cli  # noqa: E402

MMBOT = str(Path(sys.executable).with_name("mmbot"))


@pytest.fixture(scope="session")
def agent_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built once per test session from this tree."""
    return provision_cli.build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def wheelhouse(agent_wheel: Path) -> Path:
    """The agent's dependencies as wheels (the target has no route to PyPI). Cached by the
    wheel's requirements; pip's own cache makes a rebuild quick."""
    with zipfile.ZipFile(agent_wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        requires = sorted(
            line for line in zf.read(meta).decode().splitlines() if line.startswith("Requires-Dist")
        )
    key = hashlib.sha256(("\n".join(requires) + f"\n{sys.version_info[:2]}").encode()).hexdigest()[
        :16
    ]
    dest = nspawn_target.cache_dir() / f"wheelhouse-{key}"
    if (dest / ".complete").exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            str(tmp),
            str(agent_wheel),
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.skip(f"cannot download the agent's dependency wheels: {proc.stderr.strip()[-300:]}")
    for whl in tmp.glob("mmbot-*.whl"):
        whl.unlink()
    (tmp / ".complete").write_text("")
    if (dest / ".complete").exists():  # another run was quicker
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
    for old in dest.parent.glob("wheelhouse-*"):  # other dependency sets: stale
        if old != dest:
            shutil.rmtree(old, ignore_errors=True)
    return dest


@pytest.fixture
def target(tmp_path: Path) -> Iterator[nspawn_target.Target]:
    reasons = nspawn_target.missing_requirements()
    if reasons:
        pytest.skip("no disposable Debian target on this machine: " + "; ".join(reasons))
    try:
        nspawn_target.build_image(tmp_path / "debootstrap.log")
    except subprocess.CalledProcessError as exc:
        log = (tmp_path / "debootstrap.log").read_text(errors="replace")[-500:]
        pytest.skip(f"cannot build the Debian 12 image with debootstrap ({exc}): {log}")
    with nspawn_target.running_target(tmp_path / "target") as t:
        yield t


class ControlPlane:
    """The real control plane (`mmbot controlplane serve`, SQLite) on loopback, with an admin
    user and an API token: provisioning registers the agent through its REST API and its link
    then reaches the agent over mutual TLS, through the agent's firewall."""

    def __init__(self, workdir: Path) -> None:
        import secrets

        self.data = workdir / "controlplane"
        self.env = {k: v for k, v in os.environ.items() if k != "MMBOT_DATABASE_URL"}
        self.env["MMBOT_DATA_DIR"] = str(self.data)
        common = ["--data-dir", str(self.data)]
        self._run([MMBOT, "controlplane", "migrate", *common])
        self.password = password = secrets.token_urlsafe(18)
        self._run(
            [MMBOT, "controlplane", "user", "add", "admin", "--password-stdin", *common],
            input=password + "\n",
        )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.log = workdir / "controlplane.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [MMBOT, "controlplane", "serve", "--listen", f"127.0.0.1:{port}", *common],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # answering (503 until the database is ready is fine here)
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "control plane did not start:\n" + self.log.read_text()[-2000:]
                    ) from None
                time.sleep(0.2)
        form = urllib.parse.urlencode({"username": "admin", "password": password}).encode()
        session = self._request("POST", "/api/v1/auth/token", form, form=True)["access_token"]
        self.token = self._request(
            "POST", "/api/v1/tokens", {"name": "provisioning"}, bearer=session
        )["token"]

    def _run(self, cmd: list[str], input: str | None = None) -> None:
        proc = subprocess.run(
            cmd, input=input, capture_output=True, text=True, env=self.env, timeout=120
        )
        assert proc.returncode == 0, f"{cmd[1:4]}: {proc.stderr[-2000:]}"

    def _request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        bearer: str | None = None,
        form: bool = False,
    ) -> Any:
        data = body if form else (json.dumps(body).encode() if body is not None else None)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded" if form else "application/json"
        }
        if bearer or getattr(self, "token", None):
            headers["Authorization"] = f"Bearer {bearer or self.token}"
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=20) as resp:
            return json.loads(resp.read() or b"null")

    def get(self, path: str) -> Any:
        return self._request("GET", path)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class Console:
    """The console's side of the same control plane, in this process: the service the "Add
    agent (provision a VPS)" dialog calls, on the served control plane's database and key,
    signed in as its admin. Agent links are off here: the served process keeps the link."""

    def __init__(self, cp: ControlPlane, workdir: Path) -> None:
        from controlplane.core.config import Settings
        from controlplane.runtime import ControlPlane as Plane
        from controlplane.services import auth

        self.loop = asyncio.new_event_loop()
        self.plane = Plane(
            Settings(
                data_dir=cp.data,
                database_url=f"sqlite+aiosqlite:///{cp.data / 'controlplane.sqlite'}",
                provision_dir=workdir / "provision",
                start_links=False,
            )
        )

        async def sign_in() -> Any:
            await self.plane.start()
            tok = await auth.login(self.plane, "admin", cp.password)
            return await auth.authenticate(self.plane, tok.access_token)

        self.who = self.loop.run_until_complete(sign_in())
        # Where the console keeps this tenant's CA, certificates and tokens: the CLI's first
        # run uses it too, so the console's run finds the same material and changes nothing.
        self.pki = provisioning.pki_dir(self.plane, self.who.tenant_id)

    def provision(
        self, req: ProvisionRequest
    ) -> tuple[ProvisionOutcome, list[StreamItem], list[bool], float]:
        """Start a run as the dialog does and follow its stream as the dialog does. Also
        returns, per item, whether it arrived while the run was still going."""

        async def go() -> tuple[ProvisionOutcome, list[StreamItem], list[bool]]:
            run = await provisioning.start(self.plane, self.who, req)
            items: list[StreamItem] = []
            live: list[bool] = []
            async for item in run.follow():
                items.append(item)
                live.append(not run.done)
            return await run.wait(), items, live

        t0 = time.monotonic()
        outcome, items, live = self.loop.run_until_complete(go())
        return outcome, items, live, time.monotonic() - t0

    def close(self) -> None:
        self.loop.run_until_complete(self.plane.stop())
        self.loop.close()


def _provision(
    t: nspawn_target.Target,
    pki: Path,
    work: Path,
    wheel: Path,
    wheelhouse: Path,
    cp: ControlPlane,
    user: str = "root",
) -> tuple[dict[str, Any], str, float]:
    t0 = time.monotonic()
    proc = subprocess.run(
        [
            MMBOT,
            "provision",
            t.address,
            "--user",
            user,
            "--ssh-key",
            str(t.ssh_key),
            "--port",
            "22",
            "--pki-dir",
            str(pki),
            "--wheel",
            str(wheel),
            "--wheelhouse",
            str(wheelhouse),
            # The target reaches no mirror: its image already holds the packages.
            "-e",
            "mmbot_host_apt_update_cache=false",
            "--controlplane-url",
            cp.url,
            "--controlplane-token-file",
            str(work / "cp.token"),
            "--keep-artifacts",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, f"provision failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout), proc.stdout + proc.stderr, elapsed


def _tcp_connect(src: str, dst: str, port: int, timeout: float) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((src, 0))
        s.settimeout(timeout)
        try:
            s.connect((dst, port))
        except TimeoutError:
            return "timeout"
        except ConnectionRefusedError:
            return "refused"
        return "connected"


def test_provision_real_target_twice(
    target: nspawn_target.Target,
    agent_wheel: Path,
    wheelhouse: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    t = target
    work = tmp_path / "operator"
    work.mkdir()
    cp = ControlPlane(work)
    (work / "cp.token").write_text(cp.token + "\n")
    console: Console | None = None
    try:
        console = Console(cp, work)
        pki = console.pki
        first, out1, t1 = _provision(t, pki, work, agent_wheel, wheelhouse, cp)
        agent_id = first["registration"].get("agent_id")
        # The control plane's link reaches the agent: mutual TLS, through the firewall.
        deadline = time.monotonic() + 60
        online = None
        while time.monotonic() < deadline and agent_id is not None:
            online = cp.get(f"/api/v1/agents/{agent_id}")
            if online["online"]:
                break
            time.sleep(0.5)
        # The second run connects as a sudoer (become), as on a VPS without root login.
        t.ssh(
            "useradd --create-home --shell /bin/bash deploy"
            " && install -d -m 0700 -o deploy -g deploy /home/deploy/.ssh"
            " && install -m 0600 -o deploy -g deploy /root/.ssh/authorized_keys /home/deploy/.ssh/"
            " && echo 'deploy ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/deploy"
            " && chmod 0440 /etc/sudoers.d/deploy"
        )
        # The second run: the console's dialog, with the same input as the CLI's.
        outcome, items, live, t2 = console.provision(
            ProvisionRequest(
                host=t.address,
                user="deploy",
                ssh_port=22,
                ssh_key=str(t.ssh_key),
                wheel=str(agent_wheel),
                wheelhouse=str(wheelhouse),
                extra_vars="mmbot_host_apt_update_cache=false",
            )
        )
        listed = cp.get("/api/v1/agents")
    finally:
        if console is not None:
            console.close()
        cp.close()
    assert outcome.doc is not None, outcome.error
    second = outcome.doc
    out2 = json.dumps(outcome.doc) + "\n".join(
        item.text if isinstance(item, Note) else f"{item.task} {item.message}" for item in items
    )
    cp_log = cp.log.read_text(errors="replace")
    with capsys.disabled():
        print(
            f"\n[provisioning] first run {t1:.1f}s (changed={first['stats']['changed']}), "
            f"second run (the console's, as a sudoer) {t2:.1f}s "
            f"(changed={second['stats']['changed']})"
        )

    # First run did the work, second run changed nothing.
    assert first["ok"] and first["stats"]["changed"] > 10, first["stats"]
    assert first["stats"]["failed"] == 0 and first["stats"]["unreachable"] == 0
    assert outcome.ok and second["ok"], (outcome.error, second["stats"])
    changed = [x["task"] for x in second["tasks"] if x["status"] == "changed"]
    assert second["stats"]["changed"] == 0, f"second run changed: {changed}"
    assert outcome.stats == second["stats"]
    assert len(first["tasks"]) > 25

    # The console's stream: what runs where first, then every task as it starts and ends,
    # in order, while the run was going (not replayed at the end).
    assert isinstance(items[0], Note) and items[0].text.startswith(
        f"provisioning {first['agent']['name']} (deploy@{t.address}:22)"
    )
    events = [i for i in items if isinstance(i, provision_cli.ProvisionEvent)]
    starts = [e for e in events if e.kind == "start"]
    ends = [e for e in events if e.kind == "end"]
    assert [e.index for e in starts] == list(range(1, len(starts) + 1))
    assert [(e.task, e.status) for e in ends] == [(x["task"], x["status"]) for x in second["tasks"]]
    last_start = 0
    for e in events:  # each task ends after it started, before the next one starts
        if e.kind == "start":
            last_start = e.index
        assert e.index == last_start and 1 <= e.index <= e.total, e
    totals = [e.total for e in events]
    assert totals == sorted(totals) and totals[-1] >= len(starts) > 25
    assert "changed" not in {e.status for e in ends}
    assert all(live), "every item reached the console while the run was going"

    # Registration: once, through the real API; the console's re-run finds it through the
    # service layer (a name already registered counts as done, as the CLI's 409 does).
    agent = first["agent"]
    agent_token = Path(agent["token_file"]).read_text().strip()
    assert first["registration"]["status"] == "registered", first["registration"]
    assert outcome.registration == {
        "status": "already-registered",
        "agent_id": first["registration"]["agent_id"],
    }, outcome.registration
    assert second["registration"] == outcome.registration
    assert online is not None and online["online"], f"agent never online: {online}\n{cp_log}"
    assert online["endpoint"] == f"{t.address}:50051"
    assert online["name"] == agent["name"] == provision_cli.agent_name_for(t.address)
    assert [a["name"] for a in listed] == [agent["name"]]
    # The firewall default: the address this machine uses towards the host.
    assert agent["allowed_sources"] == [t.controller_address]

    # The service, its hardening and its files on the host.
    assert t.ssh("systemctl is-active mmbot-agent").strip() == "active"
    assert t.ssh("systemctl is-enabled mmbot-agent mmbot-firewall").split() == [
        "enabled",
        "enabled",
    ]
    props = dict(
        line.split("=", 1)
        for line in t.ssh(
            "systemctl show mmbot-agent -p User -p Restart -p NoNewPrivileges -p ProtectSystem "
            "-p ReadWritePaths -p MemoryMax -p PrivateTmp -p ProtectHome"
        ).splitlines()
        if "=" in line
    )
    assert props["User"] == "mmbot"
    assert props["Restart"] == "on-failure"
    assert props["NoNewPrivileges"] == "yes"
    assert props["ProtectSystem"] == "strict"
    assert props["ReadWritePaths"] == "/var/lib/mmbot/agent"
    assert props["MemoryMax"] == str(1024**3)
    modes = t.ssh(
        "stat -c '%n %a %U' /etc/mmbot/agent.token /etc/mmbot/tls/server.key "
        "/var/lib/mmbot/agent /opt/mmbot/venv/bin/mmbot"
    ).splitlines()
    assert modes == [
        "/etc/mmbot/agent.token 600 mmbot",
        "/etc/mmbot/tls/server.key 600 mmbot",
        "/var/lib/mmbot/agent 700 mmbot",
        "/opt/mmbot/venv/bin/mmbot 755 root",
    ]
    assert "SystemMaxUse=" in t.ssh("cat /etc/systemd/journald.conf.d/50-mmbot.conf")
    assert "NTP=" in t.ssh("cat /etc/systemd/timesyncd.conf.d/50-mmbot.conf")
    exposure = t.ssh("systemd-analyze security mmbot-agent --no-pager | tail -1").strip()
    with capsys.disabled():
        print(f"[provisioning] systemd-analyze security mmbot-agent: {exposure}")
    ruleset = t.ssh("nft list table inet mmbot")
    assert t.controller_address in ruleset and "policy drop" in ruleset

    # The agent answers `mmbot ctl info` over mutual TLS from the control plane's address.
    ctl = [
        MMBOT,
        "ctl",
        "--agent",
        agent["endpoint"],
        "--ca",
        agent["ca_cert"],
        "--cert",
        agent["client_cert"],
        "--key",
        agent["client_key"],
        "--token-file",
        agent["token_file"],
        "info",
        "--json",
    ]
    info = subprocess.run(ctl, capture_output=True, text=True, timeout=60)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["agent_version"]

    # Any other address: the gRPC port is dropped, SSH still open.
    assert _tcp_connect(t.other_address, t.address, 50051, 3) == "timeout"
    assert _tcp_connect(t.other_address, t.address, 22, 3) == "connected"
    assert _tcp_connect(t.controller_address, t.address, 50051, 3) == "connected"

    # Restart=on-failure: a crash brings it back (RestartSec=5).
    pid = t.ssh("systemctl show -p MainPID --value mmbot-agent").strip()
    t.ssh(f"kill -9 {pid}")
    deadline = time.monotonic() + 30
    new_pid = pid
    while time.monotonic() < deadline:
        new_pid = t.ssh("systemctl show -p MainPID --value mmbot-agent").strip()
        if (
            new_pid not in ("0", pid)
            and t.ssh("systemctl is-active mmbot-agent", check=False).strip() == "active"
        ):
            break
        time.sleep(0.5)
    assert new_pid not in ("0", pid), "the agent was not restarted after a crash"

    # No secret in the command's output, Ansible's event files or the agent's journal.
    journal = t.ssh("journalctl -u mmbot-agent --no-pager -o cat")
    artifacts = "".join(
        p.read_text(errors="replace") for p in (pki / "agents").rglob("runs/**/*") if p.is_file()
    )
    assert artifacts, "expected ansible-runner event files under --keep-artifacts"
    secrets = {
        "agent token": agent_token,
        "agent TLS key": (pki / "agents" / agent["name"] / "server.key").read_text(),
        "client TLS key": (pki / "client.key").read_text(),
        "control plane API token": cp.token,
    }
    for what, value in secrets.items():
        body = "".join(value.strip().splitlines()[1:-1]) if "PRIVATE KEY" in value else value
        needle = body[:40] if "PRIVATE KEY" in value else value
        for where, text in (
            ("output", out1 + out2),
            ("events", artifacts),
            ("agent journal", journal),
            ("control plane log", cp_log),
        ):
            flat = text.replace("\\n", "").replace("\n", "")
            assert needle not in flat, f"{what} found in {where}"
