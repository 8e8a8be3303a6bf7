"""infra/: compose, nginx, systemd units and Dockerfiles, checked by their own tools where this
machine has them (`docker compose config` / `docker-compose config` need no engine; Debian's
`nginx -t`; `systemd-analyze verify`). A missing tool skips its test with the reason and the
Debian package that brings it."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_config_is_valid(tmp_path: Path) -> None:
    cmd = _compose_command()
    if cmd is None:
        pytest.skip(
            "neither `docker compose` (plugin) nor `docker-compose` is installed "
            "(Debian 12: apt-get install --no-install-recommends docker-compose)"
        )
    # A copy, with the secret files compose refers to (they are not in git).
    infra = tmp_path / "infra"
    shutil.copytree(INFRA, infra)
    (infra / "secrets").mkdir(exist_ok=True)
    for name in ("postgres_password", "mmbot_secret_key"):
        (infra / "secrets" / name).write_text("not-a-real-secret\n")
    (infra / ".env").write_text((INFRA / ".env.example").read_text())
    proc = subprocess.run(
        [*cmd, "-f", str(infra / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        cwd=infra,
    )
    assert proc.returncode == 0, proc.stderr
    import yaml

    doc = yaml.safe_load(proc.stdout)
    services = doc["services"]
    assert set(services) == {"postgres", "migrate", "controlplane", "nginx"}
    # Migrations run to completion before the control plane starts; postgres is healthy first.
    assert services["controlplane"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["command"] == ["migrate"]
    # Only nginx faces the network (through the control plane's namespace); no TCP to postgres.
    assert services["nginx"]["network_mode"] == "service:controlplane"
    assert services["postgres"]["network_mode"] == "none"
    assert "ports" not in services["postgres"]
    assert services["controlplane"]["command"][-1] == "127.0.0.1:8080"
    for name in ("migrate", "controlplane"):
        assert services[name]["read_only"] is True
        assert services[name]["cap_drop"] == ["ALL"]
    # Secrets come from files, never from the environment.
    env = services["controlplane"]["environment"]
    assert "MMBOT_SECRET_KEY" not in env and env["MMBOT_SECRET_KEY_FILE"].startswith("/run/")


def _self_signed(directory: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True)
    (directory / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def test_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if Path(p).exists()), None
    )
    if nginx is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx)")
    # Debian's layout with this repo's files dropped in, paths redirected into tmp_path.
    _self_signed(tmp_path / "tls")
    snippets = tmp_path / "snippets"
    snippets.mkdir()
    shutil.copy(INFRA / "nginx" / "proxy.conf", snippets / "mmbot-proxy.conf")
    shutil.copy(INFRA / "nginx" / "security-headers.conf", snippets / "mmbot-security-headers.conf")
    conf = (INFRA / "nginx" / "mmbot.conf").read_text()
    conf = conf.replace("/etc/nginx/tls/", f"{tmp_path}/tls/").replace(
        "/etc/nginx/snippets/", f"{snippets}/"
    )
    (tmp_path / "mmbot.conf").write_text(conf)
    mime = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").exists() else ""
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  {mime}\n  include {tmp_path}/mmbot.conf;\n}}\n"
    )
    proc = subprocess.run(
        [nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "test is successful" in proc.stderr
    # What the console needs and the security rules of the design brief.
    assert "proxy_set_header Upgrade $http_upgrade;" in (INFRA / "nginx/proxy.conf").read_text()
    headers = (INFRA / "nginx" / "security-headers.conf").read_text()
    for header in (
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Content-Security-Policy",
        "Referrer-Policy",
    ):
        assert header in headers
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in conf


def test_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    # verify checks that ExecStart binaries exist: point them at this checkout.
    bindir = Path(sys.executable).parent
    units = []
    for unit in sorted((INFRA / "systemd").glob("mmbot-*.*")):
        text = unit.read_text()
        text = text.replace("/opt/mmbot/venv/bin/", f"{bindir}/")
        text = text.replace("/opt/mmbot/infra/", f"{INFRA}/")
        (tmp_path / unit.name).write_text(text)
        units.append(str(tmp_path / unit.name))
    proc = subprocess.run([analyze, "verify", *units], capture_output=True, text=True, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert not re.search(r"Unknown (key|section)|Ignoring|not executable", out), out


@pytest.mark.parametrize("unit", ["mmbot-agent.service", "mmbot-controlplane.service"])
def test_systemd_units_are_hardened(unit: str) -> None:
    text = (INFRA / "systemd" / unit).read_text()
    for line in (
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=",
        "User=mmbot",
    ):
        assert re.search(rf"^{re.escape(line)}$", text, re.M), f"{unit}: {line}"
    assert re.search(r"^ReadWritePaths=/var/lib/mmbot/", text, re.M)
    assert re.search(r"^MemoryMax=\S+", text, re.M)
    # Loopback only: TLS is nginx's job (control plane) or not needed (local agent).
    assert "--listen 127.0.0.1:" in text


@pytest.mark.parametrize("name", ["controlplane", "agent"])
def test_dockerfiles_are_small_non_root_and_healthchecked(name: str) -> None:
    text = (INFRA / "docker" / f"{name}.Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(froms) == 2, "multi-stage: build wheels, then a slim runtime"
    assert "slim" in text and ":latest" not in text
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK\s", text, re.M)
    assert "--no-cache-dir" in text
    ignore = (INFRA / "docker" / f"{name}.Dockerfile.dockerignore").read_text()
    assert ignore.splitlines()[1] == "*", "send only the sources to the builder"


def test_backup_script_is_valid_shell() -> None:
    sh = shutil.which("sh")
    assert sh is not None
    proc = subprocess.run(
        [sh, "-n", str(INFRA / "postgres" / "backup.sh")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


def test_controlplane_image_has_every_package_and_what_provisioning_needs() -> None:
    """The image is built from what the Dockerfile copies: a package left out is an import
    error at start (the console, `ui`, once was). Checked against pyproject's package list."""
    import fnmatch
    import tomllib

    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = conf["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = sorted(
        d.name
        for d in ROOT.iterdir()
        if (d / "__init__.py").is_file() and any(fnmatch.fnmatch(d.name, p) for p in include)
    )
    assert {"agent", "controlplane", "mmbot", "ui"} <= set(packages)
    text = (INFRA / "docker" / "controlplane.Dockerfile").read_text()
    ignore = (INFRA / "docker" / "controlplane.Dockerfile.dockerignore").read_text().splitlines()
    for pkg in packages:
        assert re.search(rf"^COPY {pkg} \./{pkg}$", text, re.M), f"{pkg} is not copied"
        assert f"!{pkg}/" in ignore, f"{pkg} is not sent to the builder"
    # the console's "Add agent (provision a VPS)": the playbook, Ansible, ssh and a wheel
    assert "!provisioning/" in ignore and "provisioning/testing/" in ignore
    copied = re.search(r"^COPY provisioning (\S+)$", text, re.M)
    assert copied and f"MMBOT_PROVISIONING_DIR={copied.group(1)}" in text
    assert "mmbot[provision]" in text and "openssh-client" in text
    wheel_dir = re.search(r"MMBOT_AGENT_WHEEL=(\S+)", text)
    assert wheel_dir and f"cp /wheels/mmbot-*.whl {wheel_dir.group(1)}/" in text
