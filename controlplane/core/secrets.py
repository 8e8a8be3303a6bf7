"""The secret box: what the control plane stores encrypted at rest (venue credentials, agent
tokens, TLS client keys).

Fernet (AES-128-CBC + HMAC-SHA256). The key comes from MMBOT_SECRET_KEY (a Fernet key, or a
passphrase of at least 32 characters stretched with HKDF), else from a key file (created with
mode 0600 on first use). Each plaintext is prefixed with the name of the record it belongs to
(`aad`) before encryption and checked after decryption, so a ciphertext copied from one row to
another (say, another tenant's bot) is refused instead of silently used.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_PASSPHRASE_CHARS = 32
_SEP = b"\x1f"


class SecretKeyError(Exception):
    """No usable key; the message says where we looked, never what we found."""


class DecryptError(Exception):
    """A ciphertext that this key cannot open (key changed, or it was moved between rows)."""


def is_fernet_key(value: str) -> bool:
    try:
        return len(value) == 44 and len(base64.urlsafe_b64decode(value.encode())) == 32
    except (binascii.Error, ValueError):
        return False


def load_key(secret_key: str, key_file: Path) -> bytes:
    if secret_key:
        if is_fernet_key(secret_key):
            return secret_key.encode()
        if len(secret_key) < MIN_PASSPHRASE_CHARS:
            raise SecretKeyError(
                f"MMBOT_SECRET_KEY must be a Fernet key or at least {MIN_PASSPHRASE_CHARS} "
                "characters long"
            )
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"mmbot controlplane v1")
        return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(FileExistsError):  # another process made it first
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(Fernet.generate_key() + b"\n")
                f.flush()
                os.fsync(f.fileno())
    try:
        key = key_file.read_bytes().strip()
    except OSError as exc:
        raise SecretKeyError(f"cannot read the key file {key_file}: {exc.strerror}") from None
    if not is_fernet_key(key.decode(errors="replace")):
        raise SecretKeyError(f"{key_file} does not hold a Fernet key")
    return key


class SecretBox:
    """Encrypts small secrets; `aad` names what a ciphertext belongs to (e.g. 'bot:12')."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, plaintext: bytes, aad: str) -> str:
        return self._fernet.encrypt(aad.encode() + _SEP + plaintext).decode()

    def decrypt(self, token: str, aad: str) -> bytes:
        try:
            raw = self._fernet.decrypt(token.encode())
        except (InvalidToken, ValueError):
            raise DecryptError("cannot decrypt with the current key") from None
        bound, sep, plaintext = raw.partition(_SEP)
        if not sep or bound != aad.encode():
            raise DecryptError("ciphertext belongs to another record")
        return plaintext
