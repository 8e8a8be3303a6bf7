"""Venue credentials: encrypted at rest, private files, keys from env or key file, no leaks."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from agent.credentials import CredentialsError, CredentialStore, VenueCredentials, load_key

SECRET = "sEcReT-0123456789-do-not-leak"


def _creds() -> VenueCredentials:
    return VenueCredentials("key-abc", SECRET, "pass-xyz", {"uid": "42"})


def test_roundtrip_encrypted_and_private(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path, env={})
    assert store.get("bot-a") is None and not store.has("bot-a")
    store.set("bot-a", _creds(), now=1.0)
    got = store.get("bot-a")
    assert got == _creds() and store.has("bot-a")
    enc = tmp_path / "credentials" / "bot-a.enc"
    key = tmp_path / "secret.key"
    for path in (enc, key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for plain in (SECRET, "key-abc", "pass-xyz"):
        assert plain.encode() not in enc.read_bytes()
    # a second store (an agent restart) reads it with the same key file
    assert CredentialStore(tmp_path, env={}).get("bot-a") == _creds()
    assert store.delete("bot-a") and store.get("bot-a") is None


def test_repr_never_shows_secrets() -> None:
    c = _creds()
    for text in (repr(c), str(c), f"{c}", repr([c])):
        assert SECRET not in text and "key-abc" not in text and "pass-xyz" not in text


def test_key_from_environment(tmp_path: Path) -> None:
    fernet_key = Fernet.generate_key().decode()
    assert load_key(tmp_path, {"MMBOT_SECRET_KEY": fernet_key}) == fernet_key.encode()
    passphrase = "correct horse battery staple, long enough"
    k1 = load_key(tmp_path, {"MMBOT_SECRET_KEY": passphrase})
    assert k1 == load_key(tmp_path, {"MMBOT_SECRET_KEY": passphrase}) and len(k1) == 44
    assert not (tmp_path / "secret.key").exists()
    with pytest.raises(CredentialsError, match="at least 32"):
        load_key(tmp_path, {"MMBOT_SECRET_KEY": "short"})
    store = CredentialStore(tmp_path, env={"MMBOT_SECRET_KEY": passphrase})
    store.set("b", _creds())
    other = CredentialStore(tmp_path, env={"MMBOT_SECRET_KEY": passphrase + "!"})
    with pytest.raises(CredentialsError, match="cannot be decrypted") as exc:
        other.get("b")
    assert SECRET not in str(exc.value)


def test_refuses_bad_input(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path, env={})
    with pytest.raises(CredentialsError, match="secret: is required"):
        store.set("b", VenueCredentials("k", ""))
    with pytest.raises(CredentialsError, match="invalid bot name"):
        store.set("../../etc/passwd", _creds())
    assert not (tmp_path / "credentials").exists() or not any((tmp_path / "credentials").iterdir())
