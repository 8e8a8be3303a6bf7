"""Venue credentials, encrypted at rest in the agent's data dir. Write-only from outside.

Secrets are write-only (design rule): SetCredentials stores them, only the venue factory inside
the agent reads them back, and no API returns them. Each bot's credentials are one Fernet token
(AES-128-CBC + HMAC-SHA256) in `<data-dir>/credentials/<bot>.enc`, written atomically with mode
0600. The key comes from MMBOT_SECRET_KEY, else from `<data-dir>/secret.key` (created 0600 on
first use). The agent's Telegram bot token (SetTelegramToken) is stored the same way in
`<data-dir>/credentials/_telegram.enc`. `VenueCredentials` hides its secret fields from repr()
so that an accidental log line or traceback cannot leak them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SECRET_KEY_ENV = "MMBOT_SECRET_KEY"
KEY_FILE = "secret.key"
CREDENTIALS_DIR = "credentials"
TELEGRAM_FILE = "_telegram.enc"  # the agent's Telegram bot token
MIN_PASSPHRASE_CHARS = 32
_BOT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class CredentialsError(Exception):
    """Credentials that cannot be stored or read; the message never contains a secret."""


@dataclass(frozen=True)
class VenueCredentials:
    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    passphrase: str = field(default="", repr=False)
    extra: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return "VenueCredentials(<redacted>)"

    __str__ = __repr__

    def errors(self) -> list[str]:
        """'field: rule' lines for what is missing, in the config error format."""
        out = []
        if not self.api_key:
            out.append("credentials.api_key: is required")
        if not self.secret:
            out.append("credentials.secret: is required")
        for k in self.extra:
            if not k:
                out.append("credentials.extra: keys must not be empty")
        return out


def load_key(data_dir: Path, env: Mapping[str, str] | None = None) -> bytes:
    """The Fernet key: MMBOT_SECRET_KEY (a Fernet key, or any >= 32 characters, stretched
    with HKDF), else `<data-dir>/secret.key`, created 0600 on first use."""
    env = os.environ if env is None else env
    value = env.get(SECRET_KEY_ENV, "")
    if value:
        if _is_fernet_key(value):
            return value.encode()
        if len(value) < MIN_PASSPHRASE_CHARS:
            raise CredentialsError(
                f"{SECRET_KEY_ENV} must be a Fernet key or at least "
                f"{MIN_PASSPHRASE_CHARS} characters long"
            )
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"mmbot credentials v1")
        return base64.urlsafe_b64encode(hkdf.derive(value.encode()))
    path = data_dir / KEY_FILE
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process made it first
            write_private(path, Fernet.generate_key() + b"\n", exclusive=True)
    key = path.read_bytes().strip()
    if not _is_fernet_key(key.decode(errors="replace")):
        raise CredentialsError(f"{path} does not hold a Fernet key")
    return key


def _is_fernet_key(value: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(value.encode())) == 32 and len(value) == 44
    except (binascii.Error, ValueError):
        return False


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write `data` so that only the owner can ever read it: a temp file created 0600, then an
    atomic rename (a crash leaves the old file or the new one, never half of one)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if exclusive:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class CredentialStore:
    """Per-bot encrypted credentials under `<data-dir>/credentials/`."""

    def __init__(self, data_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.dir = data_dir / CREDENTIALS_DIR
        self._data_dir = data_dir
        self._env = env
        self._fernet: Fernet | None = None

    def _f(self) -> Fernet:
        # The key is loaded on first use, so an agent without credentials never needs one.
        if self._fernet is None:
            self._fernet = Fernet(load_key(self._data_dir, self._env))
        return self._fernet

    def _path(self, bot: str) -> Path:
        if not _BOT_RE.match(bot):
            raise CredentialsError(f"invalid bot name {bot!r}")
        return self.dir / f"{bot}.enc"

    def set(self, bot: str, creds: VenueCredentials, *, now: float | None = None) -> float:
        """Encrypt and store; returns the time stored."""
        errors = creds.errors()
        if errors:
            raise CredentialsError("; ".join(errors))
        at = time.time() if now is None else now
        doc = {
            "api_key": creds.api_key,
            "secret": creds.secret,
            "passphrase": creds.passphrase,
            "extra": dict(creds.extra),
            "updated_at": at,
        }
        token = self._f().encrypt(json.dumps(doc).encode())
        write_private(self._path(bot), token)
        return at

    def get(self, bot: str) -> VenueCredentials | None:
        """For the venue factory only: never hand the result to an API response or a log."""
        doc = self._read(self._path(bot), f"credentials of {bot}")
        if doc is None:
            return None
        return VenueCredentials(
            doc["api_key"], doc["secret"], doc.get("passphrase", ""), doc.get("extra", {})
        )

    def _read(self, path: Path, what: str) -> dict[str, Any] | None:
        """The decrypted document at `path`, None when there is none."""
        if not path.exists():
            return None
        try:
            doc: dict[str, Any] = json.loads(self._f().decrypt(path.read_bytes()))
        except InvalidToken:
            raise CredentialsError(
                f"{what} cannot be decrypted with the current key "
                f"({SECRET_KEY_ENV} or {KEY_FILE} changed?)"
            ) from None
        return doc

    def has(self, bot: str) -> bool:
        try:
            return self._path(bot).exists()
        except CredentialsError:
            return False

    def delete(self, bot: str) -> bool:
        return _remove(self._path(bot))

    # ------------------------------------------------------------------ Telegram bot token
    # One per agent (an agent runs one notifier). The file name starts with '_', which no bot
    # name can, so it never collides with a bot's credentials.

    @property
    def _telegram_path(self) -> Path:
        return self.dir / TELEGRAM_FILE

    def set_telegram_token(self, token: str, *, now: float | None = None) -> float:
        """Encrypt and store the Telegram bot token; returns the time stored."""
        if not token:
            raise CredentialsError("telegram token: is required")
        at = time.time() if now is None else now
        doc = {"token": token, "updated_at": at}
        write_private(self._telegram_path, self._f().encrypt(json.dumps(doc).encode()))
        return at

    def telegram_token(self) -> str | None:
        """For the notifier only: never hand the result to an API response or a log."""
        doc = self._read(self._telegram_path, "the Telegram bot token")
        if doc is None:
            return None
        token = doc.get("token")
        return token if isinstance(token, str) and token else None

    def has_telegram_token(self) -> bool:
        return self._telegram_path.exists()

    def delete_telegram_token(self) -> bool:
        return _remove(self._telegram_path)


def _remove(path: Path) -> bool:
    """Delete `path`; whether there was one (a repeated delete is not an error)."""
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed
