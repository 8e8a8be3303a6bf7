"""A disposable Debian 12 VPS on this machine, for real runs of the provisioning playbook.

The target is a Debian 12 root made with debootstrap, booted with systemd as PID 1 by
systemd-nspawn inside a network namespace of its own, reached over a veth pair and SSH exactly
like a VPS: the playbook runs over SSH, installs a real systemd unit, loads real nftables rules
in the target's own network stack, and the agent answers on the target's address.

- The root is built once and cached (``MMBOT_TEST_CACHE``, default ``~/.cache/mmbot-tests``);
  each target is an overlayfs on top of it, so every test starts from a fresh machine and the
  cache is never written.
- The target has no route to the internet (its only link is the veth to this machine), so the
  cached root already holds the Debian packages the playbook asks for and the Python packages
  come from a wheelhouse copied by the playbook (``mmbot_agent_wheelhouse``).
- Addresses are in a /29 that exists only between this machine and the namespace.

Run ``python provisioning/testing/nspawn_target.py build-image`` to build the cache ahead of a
test run (about a minute), ``... check`` to print what this machine lacks.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SUITE = "bookworm"
MIRROR = os.environ.get("MMBOT_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# What the playbook installs (roles/*/defaults) plus what the test itself needs in the target:
# systemd to boot, sshd to be reached, python3-apt for Ansible's apt module.
IMAGE_PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "sudo",
    "iproute2",
    "python3",
    "python3-venv",
    "python3-apt",
    "ca-certificates",
    "nftables",
    "systemd-timesyncd",
)
IMAGE_VERSION = "1"  # bump when IMAGE_PACKAGES or the preparation below changes
TMPFS_SIZE = "4g"  # the target's writes: a venv and a wheelhouse, about 0.5 GB
TOOLS = ("debootstrap", "systemd-nspawn", "ip", "ssh", "ssh-keygen", "mount", "umount")


def cache_dir() -> Path:
    return Path(os.environ.get("MMBOT_TEST_CACHE", "~/.cache/mmbot-tests")).expanduser()


def image_dir() -> Path:
    return cache_dir() / f"debian12-nspawn-v{IMAGE_VERSION}"


def missing_requirements() -> list[str]:
    """Why this machine cannot run a target (empty when it can)."""
    reasons: list[str] = []
    if sys.platform != "linux":
        reasons.append("not Linux")
        return reasons
    if os.geteuid() != 0:
        reasons.append("not root (namespaces, overlayfs and systemd-nspawn need root)")
    for tool in TOOLS:
        if shutil.which(tool) is None:
            pkg = {
                "systemd-nspawn": "systemd-container",
                "ip": "iproute2",
                "ssh": "openssh-client",
                "ssh-keygen": "openssh-client",
            }.get(tool, tool)
            reasons.append(f"{tool} not found (apt-get install {pkg})")
    if "overlay" not in Path("/proc/filesystems").read_text():
        reasons.append("the kernel has no overlayfs")
    return reasons


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)  # type: ignore[call-overload]


def build_image(log: Path | None = None) -> Path:
    """Build the cached root if it is not there yet (atomically: a crash leaves no half root)."""
    target = image_dir()
    if (target / ".complete").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    root = tmp / "root"
    try:
        out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
        try:
            subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(IMAGE_PACKAGES)}",
                    SUITE,
                    str(root),
                    MIRROR,
                ],
                check=True,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        finally:
            if log:
                out.close()  # type: ignore[union-attr]
        # No apt timers or getty churn in a throwaway machine; keep sshd.
        for unit in ("apt-daily.timer", "apt-daily-upgrade.timer", "console-getty.service"):
            with contextlib.suppress(FileNotFoundError):
                for link in (root / "etc/systemd/system").rglob(unit):
                    link.unlink()
        (root / "etc/ssh/sshd_config.d").mkdir(parents=True, exist_ok=True)
        (root / "etc/ssh/sshd_config.d/test.conf").write_text(
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n"
        )
        (root / ".complete").write_text(IMAGE_VERSION + "\n")
        # Another run may have finished first (and may be using it): keep that one.
        if not (target / ".complete").exists():
            if target.exists():
                shutil.rmtree(target)
            with contextlib.suppress(OSError):
                root.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@dataclass
class Target:
    """A running target: SSH to `address` as root with `ssh_key`."""

    name: str
    address: str
    controller_address: str
    other_address: str  # a second address on this machine's side, not allowed by the firewall
    ssh_key: Path
    root: Path  # the target's file system, seen from this machine
    console_log: Path

    def ssh(self, command: str, *, check: bool = True, timeout: float = 60) -> str:
        proc = subprocess.run(
            ["ssh", *self.ssh_options(), f"root@{self.address}", command],
            text=True,
            capture_output=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"ssh {command!r} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def ssh_options(self) -> list[str]:
        return [
            "-i",
            str(self.ssh_key),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=5",
        ]


def _wait_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"systemd-nspawn exited with {proc.returncode} before sshd was up")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1) as s:
            s.settimeout(2)
            if s.recv(4).startswith(b"SSH"):
                return
        time.sleep(0.2)
    raise TimeoutError(f"no SSH on {host}:{port} after {timeout:.0f}s")


def _trace(message: str) -> None:
    if os.environ.get("MMBOT_TEST_TRACE"):
        print(f"[nspawn_target] {message}", file=sys.stderr, flush=True)


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


@contextlib.contextmanager
def running_target(workdir: Path, index: int = 0) -> Iterator[Target]:
    """Boot a fresh target from the cached image; tear everything down on exit."""
    image = build_image(workdir / "debootstrap.log")
    tag = f"mmbt{os.getpid() % 10000}x{index}"
    net = f"10.213.{(os.getpid() + index) % 200 + 20}"
    controller, address, other = f"{net}.1", f"{net}.2", f"{net}.3"
    # The target's writes go to a tmpfs: fast, and gone at once when it is unmounted.
    rw, merged = workdir / "rw", workdir / "root"
    upper, work = rw / "upper", rw / "work"
    for d in (rw, merged):
        d.mkdir(parents=True, exist_ok=True)
    key = workdir / "id_ed25519"
    if not key.exists():
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mmbot-test", "-f", str(key)])
    cleanups: list[tuple[str, list[str]]] = []
    proc: subprocess.Popen[bytes] | None = None
    console = workdir / "console.log"
    try:
        _run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0755", "tmpfs", str(rw)])
        cleanups.append(("tmpfs", ["umount", "-l", str(rw)]))
        for d in (upper, work):
            d.mkdir()
        _run(
            [
                "mount",
                "-t",
                "overlay",
                "overlay",
                "-o",
                f"lowerdir={image},upperdir={upper},workdir={work}",
                str(merged),
            ]
        )
        cleanups.append(("umount", ["umount", "-l", str(merged)]))
        ssh_dir = merged / "root/.ssh"
        ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (ssh_dir / "authorized_keys").write_text(Path(f"{key}.pub").read_text())
        (ssh_dir / "authorized_keys").chmod(0o600)
        (merged / "etc/hostname").write_text(f"{tag}\n")
        # Fresh host keys and machine id for this target.
        for old in (merged / "etc/ssh").glob("ssh_host_*"):
            old.unlink()
        _run(["ssh-keygen", "-A", "-f", str(merged)])
        (merged / "etc/machine-id").write_text("")

        _run(["ip", "netns", "add", tag])
        cleanups.append(("netns", ["ip", "netns", "delete", tag]))
        host_if, peer_if = f"{tag}h", f"{tag}c"
        _run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", peer_if])
        cleanups.append(("veth", ["ip", "link", "delete", host_if]))
        _run(["ip", "link", "set", peer_if, "netns", tag])
        _run(["ip", "addr", "add", f"{controller}/29", "dev", host_if])
        _run(["ip", "addr", "add", f"{other}/29", "dev", host_if])
        _run(["ip", "link", "set", host_if, "up"])
        _run(["ip", "-n", tag, "addr", "add", f"{address}/29", "dev", peer_if])
        _run(["ip", "-n", tag, "link", "set", peer_if, "up"])
        _run(["ip", "-n", tag, "link", "set", "lo", "up"])

        with open(console, "wb") as out:
            proc = subprocess.Popen(
                [
                    "systemd-nspawn",
                    "--quiet",
                    "--boot",
                    "--register=no",
                    "--keep-unit",
                    f"--machine={tag}",
                    f"--directory={merged}",
                    f"--network-namespace-path=/run/netns/{tag}",
                    # A VPS's root may change its firewall; the namespace is the target's own.
                    "--capability=CAP_NET_ADMIN",
                    "--console=read-only",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_port(address, 22, 60, proc)
        yield Target(tag, address, controller, other, key, merged, console)
    finally:
        t_down = time.monotonic()
        if proc is not None and proc.poll() is None:
            # A throwaway machine: SIGKILL its init (our nspawn's child, PID 1 of the
            # container's PID namespace); the kernel then ends everything inside at once.
            for child in _children(proc.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        _trace(f"target {tag} stopped in {time.monotonic() - t_down:.1f}s")
        for what, cmd in reversed(cleanups):
            subprocess.run(cmd, capture_output=True)
            _trace(f"target {tag} {what} removed at {time.monotonic() - t_down:.1f}s")
        _trace(f"target {tag} down in {time.monotonic() - t_down:.1f}s")
        _trace(f"target {tag} cleaned up in {time.monotonic() - t_down:.1f}s")


def main(argv: list[str]) -> int:
    what = argv[1] if len(argv) > 1 else "check"
    reasons = missing_requirements()
    if what == "check":
        print("\n".join(reasons) if reasons else "ok: this machine can run targets")
        return 1 if reasons else 0
    if what == "build-image":
        if reasons:
            print("\n".join(reasons), file=sys.stderr)
            return 1
        t0 = time.monotonic()
        path = build_image()
        print(f"{path} ready ({time.monotonic() - t0:.1f}s)")
        return 0
    print(f"usage: {argv[0]} check|build-image", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
