"""Control-plane fixtures: a real PostgreSQL and a SQLite file, each migrated once per session.

PostgreSQL comes from, in order: MMBOT_TEST_DATABASE_URL (it must work when set), a server on
127.0.0.1:5432 (probed with connect_timeout=2), testcontainers when a Docker engine works.
Otherwise the PostgreSQL half of the tests is skipped, printing all three reasons. A fresh
database is created for the session and dropped at its end, so a developer's data is never
touched. Tests share the migrated database and isolate themselves by creating their own
tenants (every query is tenant-scoped, which is what makes that safe).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from controlplane.app import create_app
from controlplane.core.config import Settings
from controlplane.db import schema
from controlplane.models import Role
from controlplane.runtime import ControlPlane
from controlplane.services import auth, tenants
from controlplane.services.principal import Principal

TEST_URL_ENV = "MMBOT_TEST_DATABASE_URL"
LOCAL_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PASSWORD = "correct horse battery staple"


def _admin_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() != "postgresql":
        raise pytest.UsageError(f"{TEST_URL_ENV} must be a PostgreSQL URL")
    return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _psycopg_dsn(url: str, database: str | None = None) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if database is not None:
        u = u.set(database=database)
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


def _probe(url: str) -> None:
    import psycopg

    with psycopg.connect(_psycopg_dsn(url), connect_timeout=2) as conn:
        conn.execute("SELECT 1")


def _find_server() -> tuple[str | None, list[str], Any]:
    """(admin URL, reasons it failed, container to stop)."""
    reasons = []
    explicit = os.environ.get(TEST_URL_ENV)
    if explicit:
        url = _admin_url(explicit)
        try:
            _probe(url)
        except Exception as exc:
            pytest.fail(f"{TEST_URL_ENV} is set but unusable: {exc}", pytrace=False)
        return url, [], None
    reasons.append(f"{TEST_URL_ENV} is not set")
    try:
        _probe(LOCAL_SERVER)
        return LOCAL_SERVER, reasons, None
    except Exception as exc:
        reasons.append(f"no server on 127.0.0.1:5432 ({type(exc).__name__}: {exc})")
    try:
        from testcontainers.community.postgres import PostgresContainer

        container = PostgresContainer("postgres:16-alpine", driver=None)
        container.start()
        url = _admin_url(container.get_connection_url())
        return url, reasons, container
    except Exception as exc:
        reasons.append(f"testcontainers unusable ({type(exc).__name__}: {str(exc)[:200]})")
    return None, reasons, None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    admin, reasons, container = _find_server()
    if admin is None:
        pytest.skip("PostgreSQL tests skipped: " + "; ".join(reasons))
    import psycopg

    name = f"mmbot_test_{secrets.token_hex(6)}"
    with psycopg.connect(_psycopg_dsn(admin), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    from sqlalchemy.engine import make_url

    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        schema.upgrade(url)
        yield url
    finally:
        with psycopg.connect(_psycopg_dsn(admin), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if container is not None:
            container.stop()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("cp-sqlite") / "controlplane.sqlite"
    url = f"sqlite+aiosqlite:///{path}"
    schema.upgrade(url)
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Every test that uses the database runs on both backends."""
    url: str = request.getfixturevalue(
        "postgres_url" if request.param == "postgresql" else "sqlite_url"
    )
    return url


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> None:
    """Production argon2 parameters cost ~0.4 s per hash on two cores; tests make hundreds."""
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    from controlplane.core import security

    security.use_hasher(PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024),)))


@pytest.fixture(scope="session")
def secret_key() -> str:
    return Fernet.generate_key().decode()


def make_settings(db_url: str, data_dir: Path, secret_key: str, **kw: Any) -> Settings:
    base: dict[str, Any] = {
        "database_url": db_url,
        "data_dir": data_dir,
        "secret_key": secret_key,
        "link_backoff_min_seconds": 0.05,
        "link_backoff_max_seconds": 0.5,
        "link_status_interval_seconds": 0.5,
        "link_idle_status_interval_seconds": 1.0,
        "link_rpc_timeout_seconds": 5.0,
    }
    base.update(kw)
    return Settings(**base)


@pytest.fixture
async def cp(db_url: str, tmp_path: Path, secret_key: str) -> AsyncIterator[ControlPlane]:
    plane = ControlPlane(make_settings(db_url, tmp_path / "cp", secret_key))
    await plane.start()
    try:
        yield plane
    finally:
        await plane.stop()


@dataclass
class Tenant:
    """One test tenant with one user and a bearer token."""

    id: int
    name: str
    username: str
    token: str
    who: Principal

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def new_tenant(
    cp: ControlPlane, role: Role = Role.ADMIN, tenant_id: int | None = None
) -> Tenant:
    suffix = uuid.uuid4().hex[:10]
    if tenant_id is None:
        t = await tenants.create_tenant(cp, f"tenant-{suffix}")
        assert t.id is not None
        tenant_id = t.id
    username = f"user-{suffix}"
    await tenants.create_user(cp, tenant_id, username, PASSWORD, role)
    tok = await auth.login(cp, username, PASSWORD)
    who = await auth.authenticate(cp, tok.access_token)
    return Tenant(tenant_id, f"tenant-{suffix}", username, tok.access_token, who)


@pytest.fixture
async def api(cp: ControlPlane) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(cp=cp, manage_lifecycle=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def wait_until(pred: Any, timeout: float = 10.0, every: float = 0.05) -> None:
    """Await until `pred()` (sync or async) is true; fail the test after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        ok = pred()
        if asyncio.iscoroutine(ok):
            ok = await ok
        if ok:
            return
        if loop.time() > deadline:
            pytest.fail("condition not reached in time")
        await asyncio.sleep(every)
