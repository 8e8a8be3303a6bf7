"""Listen/target addresses and the loopback test that decides whether TLS is required.

Separate from `server` so that `mmbot ctl` can use it without importing the server side.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass


class UsageError(Exception):
    """A command line that must not run (exit code 2); the message says what to change."""


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def parse_listen(text: str, flag: str = "--listen") -> ListenAddress:
    """'127.0.0.1:50051', 'localhost:0', '[::1]:50051', '0.0.0.0:50051'."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not host:
        raise UsageError(f"{flag}: expected HOST:PORT, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port_text)
    except ValueError:
        raise UsageError(f"{flag}: port must be a number, got {port_text!r}") from None
    if not 0 <= port <= 65535:
        raise UsageError(f"{flag}: port must be 0..65535, got {port}")
    return ListenAddress(host, port)


def is_loopback(host: str) -> bool:
    """True only if every address `host` stands for is a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        raise UsageError(f"cannot resolve {host!r}") from None
    return all(ipaddress.ip_address(str(i[4][0])).is_loopback for i in infos)
