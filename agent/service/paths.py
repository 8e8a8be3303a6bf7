"""Default file locations, shared by `agent serve` and `mmbot ctl` (which runs elsewhere)."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "MMBOT_DATA_DIR"
TOKEN_FILE_ENV = "MMBOT_AGENT_TOKEN_FILE"
TOKEN_FILE = "agent.token"
TLS_DIR = "tls"
DEFAULT_LISTEN = "127.0.0.1:50051"


def default_data_dir() -> Path:
    """MMBOT_DATA_DIR, else ~/.local/share/mmbot/agent."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".local" / "share" / "mmbot" / "agent"


def token_path(data_dir: Path) -> Path:
    return data_dir / TOKEN_FILE


def tls_dir(data_dir: Path) -> Path:
    return data_dir / TLS_DIR
