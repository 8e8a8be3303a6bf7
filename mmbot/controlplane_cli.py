"""`mmbot controlplane serve | migrate | user ...`.

Only typer is imported at module level so `mmbot --help` stays instant. Exit codes: 0 success,
1 refused or failed (e.g. the schema is outdated, the port is taken), 2 invalid input.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from controlplane.core.config import Settings

app = typer.Typer(
    help="The control plane: REST API, agent links, configs and history.",
    no_args_is_help=True,
)
user_app = typer.Typer(help="Users of the control plane.", no_args_is_help=True)
app.add_typer(user_app, name="user")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        help="postgresql+psycopg://user@host/db or sqlite:///path. Default: MMBOT_DATABASE_URL, "
        "else a SQLite file in the data dir."
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        help="Default: MMBOT_DATA_DIR, else ~/.local/share/mmbot/controlplane "
        "(SQLite file and key file live here)."
    ),
]


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _settings(database_url: str | None, data_dir: Path | None) -> Settings:
    from pydantic import ValidationError

    from controlplane.core.config import Settings

    overrides: dict[str, Any] = {}
    if database_url is not None:
        overrides["database_url"] = database_url
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise _fail(str(exc), 2) from None
    from controlplane.db.engine import DatabaseUrlError, async_url

    try:
        async_url(settings.effective_database_url)
    except DatabaseUrlError as exc:
        raise _fail(str(exc), 2) from None
    return settings


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise _fail(f"--listen: must be HOST:PORT (e.g. 127.0.0.1:8080), got {text!r}", 2)
    return host, int(port)


@app.command("serve")
def serve(
    listen: Annotated[str, typer.Option(help="HOST:PORT to serve HTTP on.")] = "127.0.0.1:8080",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING, ERROR.")] = "INFO",
    console: Annotated[bool, typer.Option(help="Serve the web console too.")] = True,
) -> None:
    """Serve the REST API (/api/v1, docs at /api/docs), the web console and follow every
    registered agent.

    Refuses to start on a database whose schema is not current: run `migrate` first.
    """
    host, port = parse_listen(listen)
    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        raise _fail(f"--log-level: unknown level {log_level!r}", 2)
    logging.basicConfig(level=level, format=LOG_FORMAT)
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
    settings = _settings(database_url, data_dir)

    import socket

    import uvicorn

    from controlplane.app import create_app
    from controlplane.core.secrets import SecretKeyError
    from controlplane.db import schema
    from controlplane.db.engine import redact

    url = settings.effective_database_url
    try:
        schema.require_current(url)
    except schema.SchemaOutdated as exc:
        raise _fail(str(exc), 1) from None
    except Exception as exc:
        raise _fail(f"cannot reach the database {redact(url)}: {exc}", 1) from None
    try:
        app_ = create_app(settings)
    except SecretKeyError as exc:
        raise _fail(str(exc), 2) from None
    if console:
        # NiceGUI keeps console sessions in its storage dir: keep it with the other data.
        import os

        os.environ.setdefault("NICEGUI_STORAGE_PATH", str(settings.data_dir / "console"))
        from ui import console as console_ui

        console_ui.attach(app_)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise _fail(f"cannot listen on {listen}: {exc.strerror}", 1) from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    typer.echo(f"listening on http://{shown}:{bound}", err=False)
    sys.stdout.flush()
    config = uvicorn.Config(app_, log_level=log_level.lower(), access_log=False, lifespan="on")
    server = _server_class()(config)
    server.run(sockets=[sock])
    if not server.started:
        raise typer.Exit(1)


def _server_class() -> Any:
    """uvicorn's Server, except that SIGTERM/SIGINT end it cleanly with exit code 0 (uvicorn
    re-raises the signal after its graceful shutdown, so the process would die of it)."""
    import contextlib
    import signal
    from collections.abc import Iterator

    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            sigs = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in sigs}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server


@app.command("migrate")
def migrate(
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Bring the database schema up to date (creates it on an empty database)."""
    settings = _settings(database_url, data_dir)
    from controlplane.db import schema
    from controlplane.db.engine import redact

    url = settings.effective_database_url
    try:
        before = schema.status(url)
        after = schema.upgrade(url)
    except Exception as exc:
        raise _fail(f"migration of {redact(url)} failed: {exc}", 1) from None
    if json_out:
        doc = {"database": redact(url), "from": before.current, "to": after.current}
        sys.stdout.write(json.dumps(doc) + "\n")
    elif before.current == after.current:
        typer.echo(f"{redact(url)}: schema already current ({after.current})")
    else:
        typer.echo(f"{redact(url)}: schema {before.current or 'empty'} -> {after.current}")


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    tenant: Annotated[str, typer.Option(help="Tenant (created if new).")] = "default",
    role: Annotated[str, typer.Option(help="admin, operator or viewer.")] = "admin",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Create a user; without --password-stdin a password is generated and printed once."""
    settings = _settings(database_url, data_dir)
    from controlplane.core.security import generate_password
    from controlplane.models import Role

    try:
        role_ = Role(role)
    except ValueError:
        raise _fail(f"--role: must be one of {', '.join(r.value for r in Role)}", 2) from None
    password = sys.stdin.readline().rstrip("\n") if password_stdin else generate_password()
    _run_with_cp(settings, _add_user(tenant, username, password, role_))
    if not password_stdin:
        typer.echo(f"created {username} ({role_.value}, tenant {tenant}); password: {password}")
    else:
        typer.echo(f"created {username} ({role_.value}, tenant {tenant})")


@user_app.command("password")
def user_password(
    username: Annotated[str, typer.Argument(help="Login name.")],
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Set a user's password from stdin (one line)."""
    settings = _settings(database_url, data_dir)
    password = sys.stdin.readline().rstrip("\n")

    async def go(cp: Any) -> None:
        from controlplane.services import tenants

        await tenants.set_password(cp, username, password)

    _run_with_cp(settings, go)
    typer.echo(f"password of {username} changed")


def _add_user(tenant: str, username: str, password: str, role: Any) -> Any:
    async def go(cp: Any) -> None:
        from controlplane.services import tenants

        t = await tenants.get_or_create_tenant(cp, tenant)
        assert t.id is not None
        await tenants.create_user(cp, t.id, username, password, role)

    return go


def _run_with_cp(settings: Settings, fn: Any) -> None:
    """Run `fn(cp)` against the database without starting links (admin commands)."""
    import asyncio

    from controlplane.db import schema
    from controlplane.runtime import ControlPlane
    from controlplane.services.errors import Conflict, Invalid

    try:
        schema.require_current(settings.effective_database_url)
    except schema.SchemaOutdated as exc:
        raise _fail(str(exc), 1) from None

    async def main() -> None:
        cp = ControlPlane(settings.model_copy(update={"start_links": False}))
        try:
            await fn(cp)
        finally:
            await cp.engine.dispose()

    try:
        asyncio.run(main())
    except Invalid as exc:
        raise _fail(
            "; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in exc.errors), 2
        ) from None
    except Conflict as exc:
        raise _fail(exc.message, 1) from None
