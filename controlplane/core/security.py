"""Passwords and bearer tokens.

Passwords are hashed with argon2 (pwdlib): slow on purpose, because people reuse them. API and
session tokens are 256 random bits, so a fast SHA-256 is enough to make a stolen database
useless for logging in, and it keeps the per-request lookup cheap. Tokens carry a short
prefix (`mmb_`) so secret scanners can spot a leaked one.
"""

from __future__ import annotations

import hashlib
import secrets

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

TOKEN_PREFIX = "mmb_"
DISPLAY_CHARS = 8

_hasher = PasswordHash((Argon2Hasher(),))
_dummy_hash: str | None = None


def use_hasher(hasher: PasswordHash) -> None:
    """Swap the password hasher (tests use cheap argon2 parameters to stay fast)."""
    global _hasher, _dummy_hash
    _hasher, _dummy_hash = hasher, None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Also spends the time of a verification when the user does not exist, so response
    times do not reveal which usernames exist."""
    global _dummy_hash
    if password_hash is None:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash("mmbot-timing-equaliser")
        _hasher.verify(password, _dummy_hash)
        return False
    try:
        return _hasher.verify(password, password_hash)
    except Exception:  # a corrupt hash is a failed login, not a server error
        return False


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_display(token: str) -> str:
    """The part of a token safe to show in listings (enough to tell tokens apart)."""
    return token[: len(TOKEN_PREFIX) + DISPLAY_CHARS]


def generate_password() -> str:
    return secrets.token_urlsafe(15)
