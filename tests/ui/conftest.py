"""Console test fixtures.

`user` is NiceGUI's simulated browser (nicegui.testing) on the console pages, wired to a real
control plane with a real in-process agent (tests.ui.stack). The fixture is built from
nicegui.testing's own `user_simulation`, because a `pytest_plugins` line is only allowed in the
top-level conftest and the plugin's `user` fixture wants a main file; the console has none
(it is attached to the control plane's app).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# Before NiceGUI is imported: its storage files go to a temporary directory, not the repo.
os.environ.setdefault("NICEGUI_STORAGE_PATH", tempfile.mkdtemp(prefix="nicegui-test-storage-"))

from nicegui.testing.user import User
from nicegui.testing.user_simulation import user_simulation

from tests.ui.stack import Stack, console_stack
from ui import console


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> None:
    """Production argon2 parameters cost ~0.4 s per hash on two cores."""
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    from controlplane.core import security

    security.use_hasher(PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024),)))


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with console_stack(tmp_path) as s:
        yield s


@pytest.fixture
async def user(stack: Stack) -> AsyncIterator[User]:
    async with user_simulation() as u:
        console.register_pages(stack.cp)
        yield u


@pytest.fixture(autouse=True)
def _fresh_login_limiter() -> None:
    from ui import session

    session.limiter = session.LoginLimiter()
