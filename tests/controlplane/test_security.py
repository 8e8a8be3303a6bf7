"""Passwords, tokens and the secret box (no database)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from controlplane.core import security
from controlplane.core.secrets import DecryptError, SecretBox, SecretKeyError, load_key


def test_passwords_hash_with_argon2_and_verify() -> None:
    h = security.hash_password("s3cret-pass")
    assert h.startswith("$argon2")
    assert security.verify_password("s3cret-pass", h)
    assert not security.verify_password("wrong", h)
    assert not security.verify_password("s3cret-pass", None)
    assert not security.verify_password("s3cret-pass", "not a hash")


def test_tokens_are_random_prefixed_and_stored_hashed() -> None:
    a, b = security.new_token(), security.new_token()
    assert a != b and a.startswith("mmb_") and len(a) > 40
    assert security.hash_token(a) != a and len(security.hash_token(a)) == 64
    assert security.token_display(a) == a[:12]


def test_secret_box_binds_ciphertext_to_its_record() -> None:
    box = SecretBox(Fernet.generate_key())
    c = box.encrypt(b"api-secret", "bot:1:venue-credentials")
    assert b"api-secret" not in c.encode()
    assert box.decrypt(c, "bot:1:venue-credentials") == b"api-secret"
    with pytest.raises(DecryptError):
        box.decrypt(c, "bot:2:venue-credentials")  # moved to another tenant's bot
    with pytest.raises(DecryptError):
        SecretBox(Fernet.generate_key()).decrypt(c, "bot:1:venue-credentials")


def test_key_from_env_fernet_passphrase_or_file(tmp_path: Path) -> None:
    fernet = Fernet.generate_key().decode()
    assert load_key(fernet, tmp_path / "k") == fernet.encode()
    derived = load_key("x" * 40, tmp_path / "k")
    assert derived == load_key("x" * 40, tmp_path / "k") and derived != fernet.encode()
    with pytest.raises(SecretKeyError, match="at least 32"):
        load_key("short", tmp_path / "k")
    assert not (tmp_path / "k").exists()  # an env key never writes a file
    key = load_key("", tmp_path / "dir" / "cp.key")
    assert load_key("", tmp_path / "dir" / "cp.key") == key
    assert stat.S_IMODE((tmp_path / "dir" / "cp.key").stat().st_mode) == 0o600
    (tmp_path / "bad.key").write_text("nonsense")
    with pytest.raises(SecretKeyError, match="does not hold"):
        load_key("", tmp_path / "bad.key")
