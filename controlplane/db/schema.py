"""Schema versions: run the Alembic migrations, and tell whether a database is current.

`serve` refuses an outdated schema instead of migrating silently: a migration can be slow or
irreversible, so the operator runs `mmbot controlplane migrate` on purpose (after a backup).
The Alembic config is built in code so an installed package (no alembic.ini) works too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from controlplane.db.engine import make_sync_engine, redact

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class SchemaOutdated(Exception):
    """The database is not at the schema this code needs; the message says what to run."""


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError("no migrations found")
    return head


def status(url: str) -> SchemaStatus:
    engine = make_sync_engine(url)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    return SchemaStatus(current, head_revision())


def upgrade(url: str, revision: str = "head") -> SchemaStatus:
    """Migrate to `revision` (the newest by default) in one transaction per migration."""
    engine = make_sync_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()
    return status(url)


def require_current(url: str) -> SchemaStatus:
    st = status(url)
    if st.up_to_date:
        return st
    where = redact(url)
    if st.current is None:
        raise SchemaOutdated(
            f"the database {where} has no mmbot schema yet: run `mmbot controlplane migrate` "
            "(with the same --database-url / MMBOT_DATABASE_URL)"
        )
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if st.current not in known:
        raise SchemaOutdated(
            f"the database {where} is at schema {st.current}, which this mmbot does not know "
            f"(newer release?); this mmbot needs {st.head}"
        )
    raise SchemaOutdated(
        f"the database {where} is at schema {st.current}, this mmbot needs {st.head}: back it "
        "up, then run `mmbot controlplane migrate`"
    )
