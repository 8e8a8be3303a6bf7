"""`mmbot provision HOST`: turn a fresh Debian 12 / Ubuntu 24.04 host into an mmbot agent.

Runs `provisioning/site.yml` through ansible-runner, shows the run task by task (a rich
progress bar on stderr), then registers the agent with the control plane (or prints the
registration it would make). What the playbook needs is prepared here:

- the wheel, built from this source tree (deterministic: the same sources give the same bytes,
  so a second run changes nothing on the host);
- the TLS material, from `--tls-dir` (made by the control plane) or from a local CA kept in
  `--pki-dir` (created on first use): the agent's server certificate for HOST, the CA whose
  client certificates the agent accepts, and the client certificate the control plane uses;
- the agent token (random, 0600, kept beside the certificates).

Secrets travel as file paths; the tasks that copy them are `no_log`, and nothing here prints
them. Only typer is imported at module level: ansible_runner and rich load inside the command.

Exit codes: 0 provisioned (and registered, when asked), 1 the run or the registration failed,
2 bad usage (nothing is changed).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

REPO_ROOT = Path(__file__).resolve().parent.parent
PROVISIONING_ENV = "MMBOT_PROVISIONING_DIR"
PKI_ENV = "MMBOT_PROVISION_DIR"
AGENT_WHEEL_ENV = "MMBOT_AGENT_WHEEL"  # the wheel to install when --wheel is not given
DEFAULT_AGENT_PORT = 50051
# Fixed zip timestamps: the same sources make the same wheel, byte for byte.
SOURCE_DATE_EPOCH = "315532800"
# The control plane's rule for agent names (controlplane/schemas.py NAME_PATTERN).
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class UsageError(Exception):
    """Bad input: exit code 2, nothing changed."""


class ProvisionFailed(Exception):
    """Something outside the input failed (build, run, registration): exit code 1."""


# --------------------------------------------------------------------------- input checks


def playbook_dir() -> Path:
    """Where site.yml lives: MMBOT_PROVISIONING_DIR, else this source tree's provisioning/."""
    env = os.environ.get(PROVISIONING_ENV)
    path = Path(env).expanduser() if env else REPO_ROOT / "provisioning"
    if not (path / "site.yml").is_file():
        raise UsageError(
            f"no playbook at {path / 'site.yml'}: run from a source checkout of mmbot or set "
            f"{PROVISIONING_ENV} to its provisioning/ directory"
        )
    return path


def default_pki_dir() -> Path:
    env = os.environ.get(PKI_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".local" / "share" / "mmbot" / "provision"


def agent_name_for(host: str) -> str:
    """A default agent name from the host: lowercase a-z, 0-9, '_', '-', at most 40 chars."""
    name = re.sub(r"[^a-z0-9_]+", "-", host.lower().strip("[]")).strip("-_")[:40].strip("-")
    return name or "agent"


def check_name(name: str, what: str = "--name") -> str:
    if not NAME_RE.match(name):
        raise UsageError(
            f"{what} {name!r}: use 1-40 characters a-z, 0-9, '_', '-', starting with a "
            "letter or digit"
        )
    return name


# One check per input, each raising UsageError with `what` (the CLI's flag, or the console's
# field label) in front: the CLI and the console's "Add agent" dialog refuse the same input
# with the same words, before anything is created.


def check_host(host: str, what: str = "HOST") -> str:
    host = host.strip()
    if not host or host.startswith("-") or any(c.isspace() for c in host):
        raise UsageError(f"{what} {host!r}: expected an IP address or DNS name")
    return host


def check_user(user: str, what: str = "--user") -> str:
    if not re.match(r"^[a-z_][a-z0-9_-]*\$?$", user):
        raise UsageError(f"{what} {user!r}: not a valid user name")
    return user


def check_ssh_key(ssh_key: Path | None, what: str = "--ssh-key") -> Path | None:
    if ssh_key is not None and not os.access(ssh_key.expanduser(), os.R_OK):
        raise UsageError(f"{what} {ssh_key}: not a readable file")
    return ssh_key


def check_wheel(wheel: Path | None, what: str = "--wheel") -> Path | None:
    if wheel is not None and (not wheel.is_file() or wheel.suffix != ".whl"):
        raise UsageError(f"{what} {wheel}: not a .whl file")
    return wheel


def check_wheelhouse(wheelhouse: Path | None, what: str = "--wheelhouse") -> Path | None:
    if wheelhouse is not None and not (
        wheelhouse.is_dir() or (wheelhouse.is_file() and wheelhouse.suffix == ".tar")
    ):
        raise UsageError(f"{what} {wheelhouse}: not a directory or a .tar file")
    return wheelhouse


def require_ansible() -> None:
    """ansible-runner is an extra (mmbot[provision]); say how to get it."""
    import importlib.util

    if importlib.util.find_spec("ansible_runner") is None:
        raise ProvisionFailed(
            "ansible-runner is not installed: pip install 'mmbot[provision]' "
            "(ansible-core 2.19 and ansible-runner)"
        )


def check_cidrs(values: list[str], what: str) -> list[str]:
    out: list[str] = []
    for raw in values:
        for item in (v.strip() for v in raw.split(",")):
            if not item:
                continue
            try:
                net = ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise UsageError(f"{what} {item!r}: not an IP address or network") from None
            out.append(str(net.network_address) if net.num_addresses == 1 else str(net))
    return out


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_controlplane(url: str | None, token_file: Path | None) -> tuple[str, str] | None:
    """(base URL, API token) or None. TLS is required off loopback."""
    if url is None and token_file is None:
        return None
    if url is None or token_file is None:
        raise UsageError("--controlplane-url and --controlplane-token-file go together")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--controlplane-url {url!r}: expected https://HOST[:PORT][/PATH]")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise UsageError(
            f"--controlplane-url {url!r}: plain http is only allowed to loopback; use https "
            "(the registration carries the agent's token and a client key)"
        )
    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(f"--controlplane-token-file {token_file}: {exc.strerror or exc}") from None
    if not token or any(c.isspace() for c in token):
        raise UsageError(f"--controlplane-token-file {token_file}: holds no token")
    return url.rstrip("/"), token


def source_address_towards(host: str, port: int) -> str | None:
    """The address this machine uses to reach `host` (no packet is sent)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError:
        return None
    for family, _type, _proto, _name, sockaddr in infos:
        with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect(sockaddr)
            return str(s.getsockname()[0])
    return None


def controlplane_sources(
    allow_from: list[str], cp_url: str | None, host: str, ssh_port: int, what: str = "--allow-from"
) -> tuple[list[str], str]:
    """Who may reach the agent's gRPC port, and why (for the summary)."""
    if allow_from:
        return allow_from, what
    if cp_url:
        cp_host = urllib.parse.urlsplit(cp_url).hostname or ""
        if not is_loopback_host(cp_host):
            try:
                addrs = sorted({str(info[4][0]) for info in socket.getaddrinfo(cp_host, None)})
            except OSError as exc:
                raise UsageError(
                    f"cannot resolve the control plane host {cp_host!r} ({exc}); "
                    f"give its address with {what}"
                ) from None
            return addrs, f"addresses of {cp_host}"
    local = source_address_towards(host, ssh_port)
    if local is None:
        raise UsageError(
            f"cannot tell which address this machine uses to reach {host}; "
            f"give the control plane's address with {what}"
        )
    return [local], f"this machine's address towards {host}; {what} to change"


# --------------------------------------------------------------------------- wheel


def _packages(source: Path) -> list[str]:
    """The top-level package directories pyproject.toml's packages.find includes."""
    import fnmatch
    import tomllib

    conf = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
    find = conf.get("tool", {}).get("setuptools", {}).get("packages", {}).get("find", {})
    patterns = find.get("include", ["*"])
    return sorted(
        d.name
        for d in source.iterdir()
        if d.is_dir()
        and (d / "__init__.py").is_file()
        and any(fnmatch.fnmatch(d.name, p) for p in patterns)
    )


def packaged_wheel() -> Path | None:
    """The agent wheel an installed control plane ships (the Docker image does), named by
    MMBOT_AGENT_WHEEL: a .whl file, or a directory holding exactly one mmbot-*.whl. None
    when unset; a setting that names no such wheel is a UsageError."""
    env = os.environ.get(AGENT_WHEEL_ENV, "")
    if not env:
        return None
    path = Path(env).expanduser()
    found = sorted(path.glob("mmbot-*.whl")) if path.is_dir() else [path]
    if len(found) != 1 or not found[0].is_file() or found[0].suffix != ".whl":
        raise UsageError(f"{AGENT_WHEEL_ENV}={env}: expected one mmbot-*.whl file")
    return found[0]


def build_wheel(out_dir: Path, source: Path = REPO_ROOT) -> Path:
    """Build the mmbot wheel from a clean copy of the source tree (no stale build/ files)."""
    if not (source / "pyproject.toml").is_file():
        raise UsageError(f"{source} is not an mmbot source tree: pass --wheel")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mmbot-wheel-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
        for item in ("pyproject.toml", "README.md", "setup.cfg", "setup.py", "MANIFEST.in"):
            if (source / item).is_file():
                shutil.copy2(source / item, src / item)
        for pkg in _packages(source):
            shutil.copytree(source / pkg, src / pkg, ignore=ignore)
        env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
        wheels = Path(tmp) / "dist"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "--disable-pip-version-check",
                "-q",
                "-w",
                str(wheels),
                str(src),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        built = sorted(wheels.glob("mmbot-*.whl"))
        if proc.returncode != 0 or not built:
            raise ProvisionFailed(f"building the wheel failed:\n{proc.stderr.strip()[-2000:]}")
        dest = out_dir / built[-1].name
        shutil.copy2(built[-1], dest)
        return dest


def pack_wheelhouse(source: Path, out_dir: Path) -> Path:
    """One tar of the wheels in `source` (a .tar is used as it is). Deterministic: sorted
    members, no timestamps or owners, so the same wheels give the same bytes."""
    import tarfile

    if source.is_file():
        return source
    wheels = sorted(source.glob("*.whl"))
    if not wheels:
        raise UsageError(f"--wheelhouse {source}: no .whl files")
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / "wheelhouse.tar"
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for whl in wheels:
            info = tar.gettarinfo(str(whl), arcname=whl.name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
            info.mode = 0o644
            with open(whl, "rb") as f:
                tar.addfile(info, f)
    if dest.exists() and dest.read_bytes() == tmp.read_bytes():
        tmp.unlink()
    else:
        os.replace(tmp, dest)
    return dest


# --------------------------------------------------------------------------- TLS and token


@dataclass(frozen=True)
class AgentSecrets:
    """Paths (never contents) of what the agent and the control plane need."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path | None
    client_key: Path | None
    token_file: Path


def _write_private(path: Path, data: bytes) -> None:
    from agent.credentials import write_private

    write_private(path, data)


def ensure_pki(pki: Path) -> tuple[Path, Path, Path, Path]:
    """The operator's CA and the control plane's client certificate, created on first use."""
    from agent import certs

    ca_crt, ca_key = pki / "ca.crt", pki / "ca.key"
    cli_crt, cli_key = pki / "client.crt", pki / "client.key"
    pki.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not ca_crt.exists() or not ca_key.exists():
        key, cert = certs.make_ca("mmbot control plane CA")
        _write_private(ca_key, certs.key_pem(key))
        ca_crt.write_bytes(certs.cert_pem(cert))
        ca_crt.chmod(0o644)
        for stale in (cli_crt, cli_key):
            stale.unlink(missing_ok=True)
    if not cli_crt.exists() or not cli_key.exists():
        ca_k, ca_c = _load_ca(ca_crt, ca_key)
        key, cert = certs.issue(ca_k, ca_c, "mmbot-controlplane", server=False)
        _write_private(cli_key, certs.key_pem(key))
        cli_crt.write_bytes(certs.cert_pem(cert))
        cli_crt.chmod(0o644)
    return ca_crt, ca_key, cli_crt, cli_key


def _load_ca(ca_crt: Path, ca_key: Path) -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(ca_crt.read_bytes())
    key = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
    return key, cert


def _cert_covers(cert_path: Path, ca_crt: Path, host: str) -> bool:
    """True when the certificate was issued by this CA, names `host` and has > 30 days left."""
    import datetime as dt

    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        ca = x509.load_pem_x509_certificate(ca_crt.read_bytes())
    except (OSError, ValueError):
        return False
    if cert.issuer != ca.subject:
        return False
    if cert.not_valid_after_utc - dt.datetime.now(dt.UTC) < dt.timedelta(days=30):
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    names = {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    names |= set(san.get_values_for_type(x509.DNSName))
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(host.strip("[]"))) in names
    return host in names


def ensure_agent_secrets(pki: Path, name: str, host: str) -> AgentSecrets:
    """The agent's server certificate (for HOST) and token under `pki/agents/NAME/`; reused
    while still valid, so that re-provisioning changes nothing on the host."""
    from agent import certs

    ca_crt, ca_key, cli_crt, cli_key = ensure_pki(pki)
    adir = pki / "agents" / name
    adir.mkdir(parents=True, exist_ok=True, mode=0o700)
    srv_crt, srv_key = adir / "server.crt", adir / "server.key"
    if not (srv_key.exists() and _cert_covers(srv_crt, ca_crt, host)):
        ca_k, ca_c = _load_ca(ca_crt, ca_key)
        hosts = [host.strip("[]"), *certs.DEFAULT_HOSTS]
        if name != host:
            hosts.append(name)
        key, cert = certs.issue(ca_k, ca_c, f"mmbot agent {name}", server=True, hosts=hosts)
        _write_private(srv_key, certs.key_pem(key))
        srv_crt.write_bytes(certs.cert_pem(cert))
        srv_crt.chmod(0o644)
    token = adir / "agent.token"
    if not token.exists():
        _write_private(token, (secrets.token_urlsafe(32) + "\n").encode())
    return AgentSecrets(ca_crt, srv_crt, srv_key, cli_crt, cli_key, token)


def secrets_from_dir(tls_dir: Path, pki: Path, name: str) -> AgentSecrets:
    """TLS material made elsewhere (the control plane): ca.crt, server.crt, server.key, and
    optionally client.crt/client.key and agent.token."""
    need = [tls_dir / n for n in ("ca.crt", "server.crt", "server.key")]
    missing = [p.name for p in need if not p.is_file()]
    if missing:
        raise UsageError(f"--tls-dir {tls_dir}: missing {', '.join(missing)}")
    client_crt, client_key = tls_dir / "client.crt", tls_dir / "client.key"
    has_client = client_crt.is_file() and client_key.is_file()
    token = tls_dir / "agent.token"
    if not token.is_file():
        token = pki / "agents" / name / "agent.token"
        if not token.exists():
            _write_private(token, (secrets.token_urlsafe(32) + "\n").encode())
    return AgentSecrets(
        need[0],
        need[1],
        need[2],
        client_crt if has_client else None,
        client_key if has_client else None,
        token,
    )


# --------------------------------------------------------------------------- the run


@dataclass
class TaskResult:
    task: str
    role: str
    status: str  # ok, changed, skipped, failed, unreachable
    duration_s: float
    message: str = ""


@dataclass
class RunResult:
    ok: bool
    rc: int
    status: str
    elapsed_s: float
    stats: dict[str, int]
    tasks: list[TaskResult] = field(default_factory=list)
    artifacts: str | None = None
    # Why a run failed that no task explains (ansible-playbook refused to start, or died):
    # the end of its own output.
    output_tail: str = ""


@dataclass
class ProvisionEvent:
    """What a progress display gets: a task started, or a task ended on the host."""

    kind: str  # "start" or "end"
    index: int
    total: int
    task: str
    role: str
    status: str = ""
    message: str = ""


def _runner_env(ansible_cfg: Path) -> dict[str, str]:
    bindir = os.path.dirname(sys.executable)
    return {
        "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "ANSIBLE_CONFIG": str(ansible_cfg),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_DISPLAY_ARGS_TO_STDOUT": "0",
    }


def count_tasks(pdir: Path, inventory: Path, extravars: Path) -> int:
    """How many tasks the play lists (handlers and fact gathering come on top)."""
    exe = Path(sys.executable).with_name("ansible-playbook")
    proc = subprocess.run(
        [
            str(exe) if exe.exists() else "ansible-playbook",
            "--list-tasks",
            "-i",
            str(inventory),
            "-e",
            f"@{extravars}",
            str(pdir / "site.yml"),
        ],
        env={**os.environ, **_runner_env(pdir / "ansible.cfg")},
        capture_output=True,
        text=True,
        cwd=pdir,
    )
    if proc.returncode != 0:
        return 0
    return sum(1 for line in proc.stdout.splitlines() if "TAGS:" in line)


def _message(res: dict[str, Any]) -> str:
    """A short, safe failure message (no_log results arrive already censored)."""
    parts = [str(res.get(k, "")).strip() for k in ("msg", "stderr", "module_stderr")]
    text = "; ".join(p for p in parts if p)
    return text[:1500]


def run_playbook(
    host: str,
    name: str,
    variables: dict[str, Any],
    *,
    ssh_user: str,
    ssh_port: int,
    ssh_key: Path | None,
    known_hosts: Path,
    on_event: Callable[[ProvisionEvent], None] | None = None,
    keep_artifacts: Path | None = None,
) -> RunResult:
    """Run site.yml against one host through ansible-runner; report each task to on_event."""
    import ansible_runner
    import yaml

    pdir = playbook_dir()
    t0 = time.monotonic()
    hostvars: dict[str, Any] = {
        "ansible_host": host.strip("[]"),
        "ansible_user": ssh_user,
        "ansible_port": ssh_port,
        "ansible_ssh_common_args": (
            f"-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={known_hosts} "
            "-o ConnectTimeout=20"
        ),
    }
    if ssh_key is not None:
        hostvars["ansible_ssh_private_key_file"] = str(ssh_key)
    if ssh_user != "root":
        hostvars["ansible_become"] = True
    inventory = {"mmbot_agents": {"hosts": {name: hostvars}}}
    with tempfile.TemporaryDirectory(prefix="mmbot-provision-") as tmp:
        private = Path(tmp)
        private.chmod(0o700)
        inv_path = private / "inventory.yml"
        inv_path.write_text(yaml.safe_dump(inventory))
        vars_path = private / "extravars.yml"
        vars_path.write_text(yaml.safe_dump(variables))
        total = count_tasks(pdir, inv_path, vars_path)
        tasks: list[TaskResult] = []
        started: dict[str, tuple[float, str, str]] = {}
        index = 0

        def handler(event: dict[str, Any]) -> bool:
            nonlocal index, total
            kind = event.get("event", "")
            data = event.get("event_data", {})
            if kind in ("playbook_on_task_start", "playbook_on_handler_task_start"):
                index += 1
                total = max(total, index)
                task = str(data.get("task", "")).strip()
                role = str(data.get("role", "") or "")
                started[str(data.get("task_uuid", ""))] = (time.monotonic(), task, role)
                if on_event:
                    on_event(ProvisionEvent("start", index, total, task, role))
            elif kind in (
                "runner_on_ok",
                "runner_on_failed",
                "runner_on_skipped",
                "runner_on_unreachable",
            ):
                began, task, role = started.get(
                    str(data.get("task_uuid", "")), (time.monotonic(), data.get("task", ""), "")
                )
                res = data.get("res", {}) or {}
                if kind == "runner_on_ok" and "censored" in res and "changed" not in res:
                    status = "hidden"  # no_log: even whether it changed stays out of events
                elif kind == "runner_on_ok":
                    status = "changed" if res.get("changed") else "ok"
                elif kind == "runner_on_skipped":
                    status = "skipped"
                elif kind == "runner_on_unreachable":
                    status = "unreachable"
                else:
                    status = "ignored" if data.get("ignore_errors") else "failed"
                msg = _message(res) if status in ("failed", "unreachable") else ""
                if status == "ok" and res.get("msg") and "debug" in str(data.get("task_action")):
                    msg = str(res["msg"])[:500]
                tasks.append(TaskResult(task, role, status, time.monotonic() - began, msg))
                if on_event:
                    on_event(ProvisionEvent("end", index, total, task, role, status, msg))
            return True

        runner = ansible_runner.run(
            private_data_dir=str(private),
            project_dir=str(pdir),
            playbook=str(pdir / "site.yml"),
            inventory=str(inv_path),
            cmdline=f"-e @{vars_path}",
            envvars=_runner_env(pdir / "ansible.cfg"),
            event_handler=handler,
            quiet=True,
            suppress_env_files=True,
        )
        stats_raw = runner.stats or {}
        stats = {
            key: sum((stats_raw.get(src) or {}).values())
            for key, src in (
                ("ok", "ok"),
                ("changed", "changed"),
                ("failed", "failures"),
                ("unreachable", "dark"),
                ("skipped", "skipped"),
                ("rescued", "rescued"),
                ("ignored", "ignored"),
            )
        }
        artifacts = None
        if keep_artifacts is not None:
            keep_artifacts.mkdir(parents=True, exist_ok=True, mode=0o700)
            dest = keep_artifacts / time.strftime("%Y%m%dT%H%M%S")
            shutil.copytree(private / "artifacts", dest, dirs_exist_ok=True)
            artifacts = str(dest)
        # The stats must agree: a run is ok only if no host failed or was unreachable.
        ok = (
            runner.status == "successful"
            and runner.rc == 0
            and stats["failed"] == 0
            and stats["unreachable"] == 0
        )
        tail = ""
        if not ok and not any(t.status in ("failed", "unreachable") for t in tasks):
            tail = _output_tail(runner)
        return RunResult(
            ok,
            # No exit status: ansible-playbook was ended by a signal (shown as -1, not 0).
            int(runner.rc) if runner.rc is not None else -1,
            str(runner.status),
            time.monotonic() - t0,
            stats,
            tasks,
            artifacts,
            tail,
        )


def _output_tail(runner: Any, lines: int = 15) -> str:
    """The last lines of ansible-playbook's output (secrets reach it only as file paths, and
    the tasks that copy them are no_log)."""
    try:
        text = runner.stdout.read()
    except (OSError, AttributeError, ValueError):
        return ""
    kept = [line.rstrip() for line in str(text).splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


# --------------------------------------------------------------------------- registration


def registration_payload(
    name: str, endpoint: str, sec: AgentSecrets, *, redact: bool
) -> dict[str, Any]:
    """The body of POST /api/v1/agents. With redact, secrets are replaced by where they are."""

    def pem(path: Path | None, secret: bool) -> str | None:
        if path is None:
            return None
        if secret and redact:
            return f"<contents of {path}>"
        return path.read_text(encoding="utf-8")

    return {
        "name": name,
        "endpoint": endpoint,
        "token": f"<contents of {sec.token_file}>"
        if redact
        else sec.token_file.read_text(encoding="utf-8").strip(),
        "tls": {
            "ca_cert": pem(sec.ca_cert, False),
            "client_cert": pem(sec.client_cert, False),
            "client_key": pem(sec.client_key, True),
            "server_name": None,
        },
    }


def register_agent(
    base_url: str, api_token: str, payload: dict[str, Any], timeout: float = 20
) -> dict[str, Any]:
    """POST the agent to the control plane. 409 (a re-run) counts as already registered."""
    req = urllib.request.Request(
        f"{base_url}/api/v1/agents",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {api_token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read().decode("utf-8", "replace")
            try:
                doc = json.loads(body) if body else {}
            except ValueError:
                doc = {}
            return {
                "status": "registered",
                "http_status": resp.status,
                "agent_id": doc.get("id") if isinstance(doc, dict) else None,
            }
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:500]
        if exc.code == 409:
            return {"status": "already-registered", "http_status": 409, "detail": detail}
        raise ProvisionFailed(
            f"registering with the control plane failed: HTTP {exc.code}: {detail}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ProvisionFailed(f"cannot reach the control plane at {base_url}: {reason}") from None


# --------------------------------------------------------------------------- command


def _progress_printer() -> tuple[Callable[[ProvisionEvent], None], Callable[[], None]]:
    """A rich progress bar on stderr with one line per finished task."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True, highlight=False)
    progress = Progress(
        TextColumn("[bold]provisioning"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    )
    bar = progress.add_task("", total=None)
    progress.start()
    colours = {
        "ok": "green",
        "changed": "yellow",
        "skipped": "dim",
        "failed": "bold red",
        "unreachable": "bold red",
        "ignored": "dim",
        "hidden": "cyan",
    }

    def on_event(ev: ProvisionEvent) -> None:
        label = f"{ev.role} : {ev.task}" if ev.role else ev.task
        if ev.kind == "start":
            progress.update(bar, total=ev.total, completed=ev.index - 1, description=label)
            return
        progress.update(bar, total=ev.total, completed=ev.index)
        colour = colours.get(ev.status, "white")
        line = f"[{colour}]{ev.status:>11}[/{colour}]  {label}"
        if ev.message:
            line += f"\n             {ev.message}"
        progress.console.print(line, markup=True, soft_wrap=True)

    return on_event, progress.stop


def provision(
    host: Annotated[str, typer.Argument(help="The host to provision: IP address or DNS name.")],
    user: Annotated[
        str, typer.Option("--user", "-u", help="SSH user (root, or a sudoer).")
    ] = "root",
    ssh_key: Annotated[
        Path | None, typer.Option("--ssh-key", "-i", help="SSH private key file.")
    ] = None,
    port: Annotated[int, typer.Option("--port", "-p", min=1, max=65535, help="SSH port.")] = 22,
    controlplane_url: Annotated[
        str | None,
        typer.Option(help="Control plane to register the agent with, e.g. https://cp.example."),
    ] = None,
    controlplane_token_file: Annotated[
        Path | None, typer.Option(help="File holding a control plane API token.")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON document (progress stays on stderr).")
    ] = False,
    name: Annotated[
        str | None, typer.Option(help="Agent name. Default: derived from HOST.")
    ] = None,
    agent_port: Annotated[
        int, typer.Option(min=1, max=65535, help="The agent's gRPC port.")
    ] = DEFAULT_AGENT_PORT,
    allow_from: Annotated[
        list[str] | None,
        typer.Option(
            help="Addresses/CIDRs that may reach the gRPC port (repeat or comma-separate). "
            "Default: the control plane's addresses, else this machine's address towards HOST."
        ),
    ] = None,
    pki_dir: Annotated[
        Path | None,
        typer.Option(
            help="Local CA, client certificate and per-agent certificates and tokens. "
            f"Default: {PKI_ENV} or ~/.local/share/mmbot/provision."
        ),
    ] = None,
    tls_dir: Annotated[
        Path | None,
        typer.Option(
            help="Use TLS material made elsewhere: ca.crt, server.crt, server.key "
            "(and client.crt, client.key, agent.token)."
        ),
    ] = None,
    wheel: Annotated[
        Path | None, typer.Option(help="An mmbot wheel to install. Default: built from here.")
    ] = None,
    wheelhouse: Annotated[
        Path | None,
        typer.Option(
            help="Dependency wheels (a directory or a .tar of them) for a host without PyPI "
            "access; they must suit the host's Python."
        ),
    ] = None,
    extra_vars: Annotated[
        list[str] | None,
        typer.Option(
            "--extra-vars",
            "-e",
            help="Playbook variable KEY=VALUE (VALUE as YAML), or @FILE (YAML). Repeatable.",
        ),
    ] = None,
    keep_artifacts: Annotated[
        bool,
        typer.Option(help="Keep ansible-runner's event files under the agent's PKI directory."),
    ] = False,
) -> None:
    """Provision HOST as an mmbot agent with Ansible, then register it with the control plane.

    Re-running is harmless: certificates, token and wheel are reused, so a second run changes
    nothing on the host.
    """
    try:
        _doc, ok = _provision(
            host=host,
            user=user,
            ssh_key=ssh_key,
            port=port,
            controlplane_url=controlplane_url,
            controlplane_token_file=controlplane_token_file,
            json_out=json_out,
            name=name,
            agent_port=agent_port,
            allow_from=allow_from or [],
            pki_dir=pki_dir,
            tls_dir=tls_dir,
            wheel=wheel,
            wheelhouse=wheelhouse,
            extra_vars=extra_vars or [],
            keep_artifacts=keep_artifacts,
        )
    except UsageError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ProvisionFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    raise typer.Exit(0 if ok else 1)


def parse_extra_vars(items: list[str], what: str = "--extra-vars") -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        if item.startswith("@"):
            path = Path(item[1:]).expanduser()
            try:
                loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise UsageError(f"{what} {item}: {exc}") from None
            if not isinstance(loaded, dict):
                raise UsageError(f"{what} {item}: expected a YAML mapping")
            out.update(loaded)
            continue
        key, sep, value = item.partition("=")
        if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise UsageError(f"{what} {item!r}: expected KEY=VALUE or @FILE")
        try:
            out[key] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            out[key] = value
    if "mmbot_agent_token" in out:
        raise UsageError(f"{what}: pass the token as a file (mmbot_agent_token_file)")
    return out


def provision_agent(
    *,
    host: str,
    user: str,
    ssh_key: Path | None,
    port: int,
    controlplane_url: str | None,
    controlplane_token_file: Path | None,
    name: str | None,
    agent_port: int,
    allow_from: list[str],
    pki_dir: Path | None,
    tls_dir: Path | None,
    wheel: Path | None,
    wheelhouse: Path | None,
    extra_vars: list[str],
    keep_artifacts: bool = False,
    on_event: Callable[[ProvisionEvent], None] | None = None,
    on_start: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], AgentSecrets]:
    """Provision one host and register it: the whole `mmbot provision`, without printing
    (the console's "Add agent" dialog calls this with its own on_event). Raises UsageError
    for bad input (nothing created), ProvisionFailed for a failed build or registration; a
    failed playbook run comes back as doc["ok"] == False."""
    # 1. Everything that can be wrong with the input, before anything is created.
    host = check_host(host)
    agent_name = check_name(name or agent_name_for(host))
    check_user(user)
    check_ssh_key(ssh_key)
    check_wheel(wheel)
    check_wheelhouse(wheelhouse)
    if tls_dir is not None and not tls_dir.is_dir():
        raise UsageError(f"--tls-dir {tls_dir}: not a directory")
    cp = check_controlplane(controlplane_url, controlplane_token_file)
    require_ansible()
    allowed = check_cidrs(allow_from, "--allow-from")
    user_vars = parse_extra_vars(extra_vars)
    playbook_dir()  # fails early (exit 2) when there is no playbook
    sources, sources_why = controlplane_sources(allowed, controlplane_url, host, port)

    # 2. What the playbook needs.
    pki = (pki_dir or default_pki_dir()).expanduser().resolve()
    if tls_dir is not None:
        sec = secrets_from_dir(tls_dir.expanduser().resolve(), pki, agent_name)
    else:
        sec = ensure_agent_secrets(pki, agent_name, host)
    adir = pki / "agents" / agent_name
    adir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if wheel is None:
        wheel = packaged_wheel() or build_wheel(adir / "dist")
    wheelhouse_tar = pack_wheelhouse(wheelhouse.resolve(), adir) if wheelhouse else None
    variables: dict[str, Any] = {
        "mmbot_agent_wheel": str(wheel.resolve()),
        "mmbot_agent_wheelhouse": str(wheelhouse_tar) if wheelhouse_tar else "",
        "mmbot_agent_port": agent_port,
        "mmbot_agent_tls_cert": str(sec.server_cert),
        "mmbot_agent_tls_key": str(sec.server_key),
        "mmbot_agent_ca_cert": str(sec.ca_cert),
        "mmbot_agent_token_file": str(sec.token_file),
        "mmbot_firewall_controlplane_sources": sources,
        **user_vars,
    }

    # 3. The run.
    if on_start is not None:
        on_start(
            f"provisioning {agent_name} ({user}@{host}:{port}); gRPC port {agent_port} open to "
            f"{', '.join(sources)} ({sources_why})"
        )
    try:
        result = run_playbook(
            host,
            agent_name,
            variables,
            ssh_user=user,
            ssh_port=port,
            ssh_key=ssh_key.expanduser().resolve() if ssh_key else None,
            known_hosts=pki / "known_hosts",
            on_event=on_event,
            keep_artifacts=adir / "runs" if keep_artifacts else None,
        )
    except ImportError as exc:
        raise ProvisionFailed(f"cannot run Ansible: {exc}") from None

    endpoint = f"{host}:{agent_port}" if ":" not in host else f"[{host.strip('[]')}]:{agent_port}"
    agent_doc = {
        "name": agent_name,
        "endpoint": endpoint,
        "ca_cert": str(sec.ca_cert),
        "client_cert": str(sec.client_cert) if sec.client_cert else None,
        "client_key": str(sec.client_key) if sec.client_key else None,
        "token_file": str(sec.token_file),
        "allowed_sources": sources,
    }
    doc: dict[str, Any] = {
        "host": host,
        "ok": result.ok,
        "rc": result.rc,
        "status": result.status,
        "elapsed_s": round(result.elapsed_s, 2),
        "stats": result.stats,
        "tasks": [asdict(t) for t in result.tasks],
        "agent": agent_doc,
        "artifacts": result.artifacts,
        "output_tail": result.output_tail,
    }

    # 4. Registration.
    registration: dict[str, Any]
    if not result.ok:
        registration = {"status": "skipped", "reason": "the playbook run failed"}
    elif cp is None:
        registration = {
            "status": "not-requested",
            "would_post": "POST <controlplane>/api/v1/agents",
            "body": registration_payload(agent_name, endpoint, sec, redact=True),
        }
    elif sec.client_cert is None:
        raise ProvisionFailed(
            "cannot register: --tls-dir has no client.crt/client.key for the control plane"
        )
    else:
        base, token = cp
        registration = register_agent(
            base, token, registration_payload(agent_name, endpoint, sec, redact=False)
        )
        registration["url"] = f"{base}/api/v1/agents"
    doc["registration"] = registration
    return doc, sec


def _provision(*, json_out: bool, **kwargs: Any) -> tuple[dict[str, Any], bool]:
    """The command: progress on stderr, the summary (or JSON) on stdout."""
    on_event, stop = _progress_printer()

    def on_start(line: str) -> None:
        if not json_out:
            typer.echo(line, err=True)

    try:
        doc, sec = provision_agent(on_event=on_event, on_start=on_start, **kwargs)
    finally:
        stop()
    if json_out:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        _print_summary(doc, sec)
    return doc, bool(doc["ok"])


def _print_summary(doc: dict[str, Any], sec: AgentSecrets) -> None:
    s = doc["stats"]
    agent = doc["agent"]
    verdict = "provisioned" if doc["ok"] else "FAILED"
    typer.echo(
        f"{verdict} {agent['name']} in {doc['elapsed_s']:.1f}s: ok={s['ok']} "
        f"changed={s['changed']} failed={s['failed']} unreachable={s['unreachable']} "
        f"skipped={s['skipped']}"
    )
    if not doc["ok"]:
        for t in doc["tasks"]:
            if t["status"] in ("failed", "unreachable"):
                label = f"{t['role']} : {t['task']}" if t["role"] else t["task"]
                typer.echo(f"  {t['status']}: {label}: {t['message']}")
        if doc.get("output_tail"):
            typer.echo(f"  ansible-playbook (rc={doc['rc']}), last lines:")
            typer.echo("    " + doc["output_tail"].replace("\n", "\n    "))
        return
    client = f"--cert {sec.client_cert} --key {sec.client_key} " if sec.client_cert else ""
    typer.echo(
        f"  check it: mmbot ctl --agent {agent['endpoint']} --ca {sec.ca_cert} {client}"
        f"--token-file {sec.token_file} info"
    )
    reg = doc["registration"]
    if reg["status"] == "not-requested":
        typer.echo(
            "  not registered (no --controlplane-url); the registration would be "
            f"{reg['would_post']} with:"
        )
        typer.echo("    " + json.dumps(reg["body"], indent=2).replace("\n", "\n    "))
    else:
        typer.echo(f"  control plane: {reg['status']} ({reg.get('url', '')})")


def register(app: typer.Typer) -> None:
    """Attach `mmbot provision` to the top-level app."""
    app.command("provision")(provision)
