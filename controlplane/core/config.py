"""Control-plane settings from the environment (MMBOT_*), overridable by the CLI.

The embedded default needs nothing: a SQLite file and a key file in the data dir. Production
sets MMBOT_DATABASE_URL (postgresql+psycopg://...) and MMBOT_SECRET_KEY.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DATA_DIR_ENV = "MMBOT_DATA_DIR"
DB_FILE = "controlplane.sqlite"
KEY_FILE = "controlplane.key"


def default_data_dir() -> Path:
    """MMBOT_DATA_DIR, else ~/.local/share/mmbot/controlplane (the agent uses .../agent)."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".local" / "share" / "mmbot" / "controlplane"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MMBOT_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str = ""
    # A Fernet key or a passphrase of >= 32 characters; else secret_key_file; else a key file
    # created in the data dir on first use.
    secret_key: str = Field(default="", repr=False)
    secret_key_file: Path | None = None

    session_ttl_seconds: int = Field(default=12 * 3600, ge=60)
    session_cookie: str = "mmbot_session"
    cookie_secure: bool = False

    # Agent links: reconnect backoff, status polling and the archive writer's batching.
    link_backoff_min_seconds: float = Field(default=0.5, gt=0)
    link_backoff_max_seconds: float = Field(default=30.0, gt=0)
    link_status_interval_seconds: float = Field(default=5.0, gt=0)  # while watched
    link_idle_status_interval_seconds: float = Field(default=30.0, gt=0)  # otherwise
    link_rpc_timeout_seconds: float = Field(default=10.0, gt=0)
    archive_queue_batches: int = Field(default=10_000, ge=1)
    archive_max_events_per_tx: int = Field(default=5_000, ge=1)
    start_links: bool = True

    # The console's "Add agent (provision a VPS)" keeps each tenant's CA, the control plane's
    # client certificate and every agent's certificate and token in <this>/tenant-<id>.
    # Default <data dir>/provision. The same variable (MMBOT_PROVISION_DIR) is where
    # `mmbot provision` keeps one operator's material (no tenant level there).
    provision_dir: Path | None = None

    @field_validator("database_url")
    @classmethod
    def _plain_postgres(cls, v: str) -> str:
        # `postgresql://` means psycopg2 to SQLAlchemy; we ship psycopg 3.
        if v.startswith("postgresql://") or v.startswith("postgres://"):
            return "postgresql+psycopg://" + v.split("://", 1)[1]
        return v

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / DB_FILE}"

    @property
    def effective_provision_dir(self) -> Path:
        return (self.provision_dir or self.data_dir / "provision").expanduser()

    @property
    def default_key_file(self) -> Path:
        return self.secret_key_file or (self.data_dir / KEY_FILE)
