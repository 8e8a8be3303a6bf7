"""provisioning/ and `mmbot provision`: the playbook passes its own tools (syntax check,
ansible-lint production profile, offline), the firewall rules pass `nft -c`, and the command's
parts (input checks, certificates and token, wheel, registration) behave. The real run against
a disposable host is in test_provisioning_apply.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mmbot import provision_cli as pc

ROOT = Path(__file__).resolve().parent.parent
PROV = ROOT / "provisioning"
BIN = Path(sys.executable).parent
MMBOT = str(BIN / "mmbot")


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed in this venv (pip install -e '.[dev]')")
    return str(path)


def _ansible_env() -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(PROV / "ansible.cfg"),
        "ANSIBLE_HOME": str(PROV / ".ansible"),  # git-ignored; ansible-lint caches there too
        "ANSIBLE_LOCAL_TEMP": "/tmp",
    }


def test_playbook_syntax_check() -> None:
    proc = subprocess.run(
        [
            _tool("ansible-playbook"),
            "--syntax-check",
            "-i",
            "inventory/hosts.example.yml",
            "site.yml",
        ],
        cwd=PROV,
        env=_ansible_env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ansible_lint_production_profile() -> None:
    proc = subprocess.run(
        [_tool("ansible-lint"), "--offline", "--profile", "production", "--nocolor"],
        cwd=PROV,
        env=_ansible_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Profile 'production' was required, and it passed" in proc.stdout + proc.stderr


def test_playbook_lists_every_role() -> None:
    proc = subprocess.run(
        [
            _tool("ansible-playbook"),
            "--list-tasks",
            "-i",
            "inventory/hosts.example.yml",
            "site.yml",
        ],
        cwd=PROV,
        env=_ansible_env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    for role in ("mmbot_host", "mmbot_firewall", "mmbot_agent"):
        assert f"{role} : " in proc.stdout


def _render(template: Path, variables: dict[str, Any]) -> str:
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(template.read_text()).render(ansible_managed="test", **variables)


@pytest.mark.parametrize("default_drop", [True, False])
def test_firewall_rules_pass_nft_check(tmp_path: Path, default_drop: bool) -> None:
    nft = shutil.which("nft") or ("/usr/sbin/nft" if Path("/usr/sbin/nft").exists() else None)
    unshare = shutil.which("unshare")
    if nft is None or unshare is None:
        pytest.skip("nft is not installed (Debian: apt-get install nftables)")
    if os.geteuid() != 0:
        pytest.skip("nft -c needs root (CAP_NET_ADMIN) to check rules in a scratch namespace")
    cp = ["203.0.113.7", "198.51.100.0/24", "2001:db8::7"]
    ssh = ["192.0.2.10", "2001:db8:1::/48"]
    variables = {
        "mmbot_firewall_grpc_port": 50051,
        "mmbot_firewall_default_drop": default_drop,
        "mmbot_firewall_ssh_port": 2222,
        "mmbot_firewall_ssh_sources": ssh,
        "mmbot_firewall_extra_tcp_ports": [9100],
        "mmbot_firewall_controlplane_sources": cp,
        "__mmbot_firewall_cp_v4": [a for a in cp if ":" not in a],
        "__mmbot_firewall_cp_v6": [a for a in cp if ":" in a],
        "__mmbot_firewall_ssh_v4": [a for a in ssh if ":" not in a],
        "__mmbot_firewall_ssh_v6": [a for a in ssh if ":" in a],
    }
    rules = tmp_path / "mmbot.nft"
    rules.write_text(_render(PROV / "roles/mmbot_firewall/templates/firewall.nft.j2", variables))
    # Load for real in a scratch network namespace: the host's rules are not touched.
    proc = subprocess.run(
        [unshare, "--net", "sh", "-c", f"{nft} -f {rules} && {nft} list table inet mmbot"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr + rules.read_text()
    listed = proc.stdout
    assert "203.0.113.7" in listed and "2001:db8::7" in listed
    assert ("policy drop" in listed) is default_drop
    assert ("tcp dport 2222" in listed) is default_drop
    # Reloading replaces the table in one go (the file starts by deleting it).
    twice = subprocess.run(
        [unshare, "--net", "sh", "-c", f"{nft} -f {rules} && {nft} -f {rules}"],
        capture_output=True,
        text=True,
    )
    assert twice.returncode == 0, twice.stderr


# --------------------------------------------------------------------------- the command


def _provision(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MMBOT, "provision", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})},
    )


def test_help_does_not_import_ansible() -> None:
    code = (
        "import sys; from mmbot.cli import app; "
        "print(any(m.startswith(('ansible', 'ansible_runner')) for m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "False", proc.stderr
    help_out = _provision("--help")
    assert help_out.returncode == 0
    for opt in ("--user", "--ssh-key", "--port", "--controlplane-url", "--json"):
        assert opt in help_out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["10.0.0.9", "--ssh-key", "/nonexistent/key"], "--ssh-key"),
        (["10.0.0.9", "--controlplane-url", "http://cp.example.com"], "go together"),
        (["10.0.0.9", "--allow-from", "not-an-ip"], "--allow-from"),
        (["10.0.0.9", "--name", "Bad Name!"], "--name"),
        (["10.0.0.9", "-e", "no-equals-sign"], "--extra-vars"),
        (["10.0.0.9", "--port", "0"], "--port"),
        (["10.0.0.9", "--wheel", "/nonexistent.whl"], "--wheel"),
        (["--user", "root"], "Missing argument"),
    ],
)
def test_bad_usage_exits_2_and_changes_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    pki = tmp_path / "pki"
    proc = _provision(*args, "--pki-dir", str(pki))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert not pki.exists(), "bad usage must not create anything"


def test_plain_http_controlplane_only_on_loopback(tmp_path: Path) -> None:
    token = tmp_path / "t"
    token.write_text("api-token\n")
    proc = _provision(
        "10.0.0.9",
        "--controlplane-url",
        "http://cp.example.com",
        "--controlplane-token-file",
        str(token),
        "--pki-dir",
        str(tmp_path / "pki"),
    )
    assert proc.returncode == 2
    assert "use https" in proc.stderr


def test_unreachable_host_fails_with_1(tmp_path: Path) -> None:
    wheel = tmp_path / "mmbot-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"not used: the host is unreachable")
    key = tmp_path / "id"
    key.write_text("unused\n")
    key.chmod(0o600)
    proc = _provision(
        "127.0.0.1",
        "--port",
        "9",  # discard: nothing listens there
        "--ssh-key",
        str(key),
        "--wheel",
        str(wheel),
        "--pki-dir",
        str(tmp_path / "pki"),
        "--json",
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False and doc["stats"]["unreachable"] == 1
    assert doc["registration"]["status"] == "skipped"


def test_agent_secrets_are_made_once_and_reused(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    first = pc.ensure_agent_secrets(pki, "alice", "203.0.113.10")
    snapshot = {p: p.read_bytes() for p in pki.rglob("*") if p.is_file()}
    second = pc.ensure_agent_secrets(pki, "alice", "203.0.113.10")
    assert first == second
    assert {p: p.read_bytes() for p in pki.rglob("*") if p.is_file()} == snapshot
    for secret in (first.server_key, first.token_file, first.client_key, pki / "ca.key"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
    assert pc._cert_covers(first.server_cert, first.ca_cert, "203.0.113.10")
    assert not pc._cert_covers(first.server_cert, first.ca_cert, "203.0.113.11")
    # A new address for the same agent: a new certificate from the same CA.
    moved = pc.ensure_agent_secrets(pki, "alice", "agent.example.com")
    assert moved.server_cert.read_bytes() != snapshot[first.server_cert]
    assert moved.ca_cert.read_bytes() == snapshot[first.ca_cert]
    assert pc._cert_covers(moved.server_cert, moved.ca_cert, "agent.example.com")
    assert moved.token_file.read_bytes() == snapshot[first.token_file]


def test_registration_payload_redacts_secrets(tmp_path: Path) -> None:
    sec = pc.ensure_agent_secrets(tmp_path / "pki", "bob", "198.51.100.4")
    shown = json.dumps(pc.registration_payload("bob", "198.51.100.4:50051", sec, redact=True))
    token = sec.token_file.read_text().strip()
    assert token not in shown
    assert "PRIVATE KEY" not in shown
    real = pc.registration_payload("bob", "198.51.100.4:50051", sec, redact=False)
    assert real["token"] == token
    assert "PRIVATE KEY" in real["tls"]["client_key"]


def test_wheel_and_wheelhouse_are_deterministic(tmp_path: Path) -> None:
    a = pc.build_wheel(tmp_path / "a")
    b = pc.build_wheel(tmp_path / "b")
    assert a.name.startswith("mmbot-") and a.read_bytes() == b.read_bytes()
    wh = tmp_path / "wh"
    wh.mkdir()
    shutil.copy(a, wh / a.name)
    (wh / "other-1.0-py3-none-any.whl").write_bytes(b"x")
    t1 = pc.pack_wheelhouse(wh, tmp_path / "t1").read_bytes()
    os.utime(wh / a.name, (0, 1_000_000))
    t2 = pc.pack_wheelhouse(wh, tmp_path / "t2").read_bytes()
    assert t1 == t2


def test_extra_vars_and_names() -> None:
    assert pc.parse_extra_vars(["a=1", "b=[x, y]", "c=", "d=false"]) == {
        "a": 1,
        "b": ["x", "y"],
        "c": "",
        "d": False,
    }
    assert pc.agent_name_for("Agent-1.Example.COM") == "agent-1-example-com"
    assert pc.agent_name_for("[2001:db8::1]") == "2001-db8-1"
    assert pc.agent_name_for("203.0.113.10") == "203-0-113-10"
    assert pc.check_name(pc.agent_name_for("x" * 80)) == "x" * 40
    assert pc.check_cidrs(["10.1.2.3, 10.0.0.0/8", "2001:db8::/32"], "x") == [
        "10.1.2.3",
        "10.0.0.0/8",
        "2001:db8::/32",
    ]


@pytest.fixture
def controlplane() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"auth": self.headers.get("Authorization"), "body": body})
            code = {"new": 201, "dup": 409, "bad": 401}[body["name"]]
            data = json.dumps({"id": 7} if code == 201 else {"detail": "no"}).encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_register_agent_outcomes(controlplane: tuple[str, list[dict[str, Any]]]) -> None:
    url, seen = controlplane
    ok = pc.register_agent(url, "tok", {"name": "new"})
    assert ok["status"] == "registered" and ok["agent_id"] == 7
    assert seen[0]["auth"] == "Bearer tok"
    assert pc.register_agent(url, "tok", {"name": "dup"})["status"] == "already-registered"
    with pytest.raises(pc.ProvisionFailed, match="HTTP 401"):
        pc.register_agent(url, "tok", {"name": "bad"})
    with pytest.raises(pc.ProvisionFailed, match="cannot reach"):
        pc.register_agent("http://127.0.0.1:9", "tok", {"name": "new"}, timeout=2)


def test_every_role_variable_is_documented() -> None:
    import yaml

    readme = (PROV / "README.md").read_text()
    documented = set(re.findall(r"`(mmbot_[a-z_]+)`", readme))
    defaults: set[str] = set()
    for role in (PROV / "roles").iterdir():
        defaults |= set(yaml.safe_load((role / "defaults" / "main.yml").read_text()))
    missing = defaults - documented
    assert not missing, f"variables missing from provisioning/README.md: {sorted(missing)}"
    stale = {
        v
        for v in documented
        if v.startswith(("mmbot_agent_", "mmbot_host_", "mmbot_firewall_")) and v not in defaults
    }
    assert not stale, f"documented variables that do not exist: {sorted(stale)}"


def test_packaged_wheel_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed control plane (the Docker image) has no source tree to build the agent
    wheel from: MMBOT_AGENT_WHEEL names the one it ships, as a file or a directory."""
    monkeypatch.delenv(pc.AGENT_WHEEL_ENV, raising=False)
    assert pc.packaged_wheel() is None
    wheel = tmp_path / "mmbot-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK")
    for value in (str(wheel), str(tmp_path)):
        monkeypatch.setenv(pc.AGENT_WHEEL_ENV, value)
        assert pc.packaged_wheel() == wheel
    (tmp_path / "mmbot-0.2.0-py3-none-any.whl").write_bytes(b"PK")
    for bad in (str(tmp_path), str(tmp_path / "nope.whl"), str(tmp_path / "empty")):
        monkeypatch.setenv(pc.AGENT_WHEEL_ENV, bad)
        with pytest.raises(pc.UsageError, match="expected one mmbot-"):
            pc.packaged_wheel()


def test_a_run_that_no_task_explains_reports_the_end_of_ansibles_output() -> None:
    import io
    import types

    from controlplane.services.provisioning import _failure

    text = "PLAY [agents]\n\nERROR! the playbook could not be read\n"
    runner = types.SimpleNamespace(stdout=io.StringIO(text))
    tail = pc._output_tail(runner)
    assert tail == "PLAY [agents]\nERROR! the playbook could not be read"
    assert pc._output_tail(types.SimpleNamespace()) == ""
    doc = {"tasks": [], "status": "failed", "rc": -1, "output_tail": tail}
    assert _failure(doc) == (
        "the playbook run ended failed (rc=-1): ERROR! the playbook could not be read"
    )
