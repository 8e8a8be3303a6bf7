"""Database engines: async for the server, sync for Alembic and the CLI.

One URL configures both. `postgresql+psycopg://` works sync and async with psycopg 3; SQLite
uses aiosqlite for the async engine and the stdlib driver for the sync one. SQLite runs in WAL
mode with a busy timeout so the archive writer and API requests do not trip over each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

SQLITE_BUSY_TIMEOUT_MS = 15_000


class DatabaseUrlError(ValueError):
    """A URL we cannot use; the message says which forms work."""


def _parse(url: str) -> URL:
    try:
        u = make_url(url)
    except Exception:
        raise DatabaseUrlError(
            "database URL must look like postgresql+psycopg://user@host/db or sqlite:///path"
        ) from None
    backend = u.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseUrlError(f"unsupported database {backend!r}: use PostgreSQL or SQLite")
    if backend == "postgresql" and u.get_driver_name() not in ("psycopg", "psycopg_async"):
        u = u.set(drivername="postgresql+psycopg")
    return u


def async_url(url: str) -> URL:
    u = _parse(url)
    if u.get_backend_name() == "sqlite":
        return u.set(drivername="sqlite+aiosqlite")
    return u


def sync_url(url: str) -> URL:
    u = _parse(url)
    if u.get_backend_name() == "sqlite":
        return u.set(drivername="sqlite")
    return u.set(drivername="postgresql+psycopg")


def is_sqlite(url: str) -> bool:
    return _parse(url).get_backend_name() == "sqlite"


def _prepare_sqlite(u: URL) -> None:
    if u.database and u.database != ":memory:":
        Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.close()


def make_async_engine(url: str, *, pool_size: int = 20) -> AsyncEngine:
    """No pre-ping: it would add a round trip to every short transaction (agent links make
    many). A connection that broke (database restart) is invalidated by SQLAlchemy on its
    first error; the API answers that request with 503 and the archive writer retries."""
    u = async_url(url)
    kw: dict[str, Any] = {"pool_recycle": 3600}
    if u.get_backend_name() == "sqlite":
        _prepare_sqlite(u)
    else:
        kw.update(pool_size=pool_size, max_overflow=pool_size)
    engine = create_async_engine(u, **kw)
    if u.get_backend_name() == "sqlite":
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def make_sync_engine(url: str) -> sa.Engine:
    u = sync_url(url)
    if u.get_backend_name() == "sqlite":
        _prepare_sqlite(u)
    engine = sa.create_engine(u, pool_pre_ping=True)
    if u.get_backend_name() == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def redact(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    try:
        return _parse(url).render_as_string(hide_password=True)
    except DatabaseUrlError:
        return "<invalid database URL>"
