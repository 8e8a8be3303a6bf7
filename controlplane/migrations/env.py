"""Alembic environment: runs migrations on a sync connection.

`controlplane.db.schema` passes an open connection in `config.attributes["connection"]`; the
`alembic` command line uses MMBOT_DATABASE_URL (or the embedded SQLite default). SQLite runs
in batch mode so later migrations can alter tables there too.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import controlplane.models  # noqa: F401  (registers the tables on the metadata)
from controlplane.core.config import Settings
from controlplane.db.engine import make_sync_engine

target_metadata = SQLModel.metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_sync_engine(Settings().effective_database_url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
