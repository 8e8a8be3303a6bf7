"""`mmbot agent serve` and `mmbot agent certs init`.

Only typer is imported at module level so `mmbot --help` stays instant; the agent, grpc and
cryptography load inside the commands. Exit codes: 0 success, 1 failed (e.g. the port is
taken), 2 invalid input (flags, TLS rules, configuration) - and invalid input changes nothing.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

certs_app = typer.Typer(
    help="TLS certificates for the agent and its clients.", no_args_is_help=True
)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _config_errors(errors: list[str]) -> typer.Exit:
    typer.echo("invalid configuration:", err=True)
    for line in errors:
        typer.echo(f"  {line}", err=True)
    return typer.Exit(2)


def agent_serve(
    listen: Annotated[
        str, typer.Option(help="HOST:PORT; anything but loopback requires TLS.")
    ] = "127.0.0.1:50051",
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Journal, token, keys. Default: MMBOT_DATA_DIR or ~/.local/share/mmbot/agent."
        ),
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="Server certificate (PEM).")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="Server private key (PEM).")] = None,
    client_ca: Annotated[
        Path | None, typer.Option(help="CA of the client certificates to accept (mutual TLS).")
    ] = None,
    no_mtls: Annotated[
        bool, typer.Option("--no-mtls", help="TLS without client certificates (token only).")
    ] = False,
    token_file: Annotated[
        Path | None, typer.Option(help="Agent token file. Default: <data-dir>/agent.token.")
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Plaintext; refused unless listening on loopback.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Add this bot if the journal has none of its name."),
    ] = None,
    scenario: Annotated[str, typer.Option(help="Scenario for 'sim' venues.")] = "calm",
    seed: Annotated[int, typer.Option(help="Seed for the simulator and the strategy.")] = 0,
    grace: Annotated[
        float, typer.Option(min=0, help="Seconds running calls get at shutdown.")
    ] = 5.0,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING, ERROR.")] = "INFO",
) -> None:
    """Run the agent: bots from the journal (plus --config), the gRPC API, until SIGTERM/SIGINT.

    A clean shutdown cancels the bots' orders but keeps their recorded state, so the next
    start resumes RUNNING bots.
    """
    import asyncio

    from agent.config import ConfigError
    from agent.serve import ServeOptions, prepare, run
    from agent.service.address import UsageError

    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        raise _fail(f"--log-level: unknown level {log_level!r}", 2)
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)
    opts = ServeOptions(
        listen=listen,
        data_dir=data_dir,
        tls_cert=tls_cert,
        tls_key=tls_key,
        client_ca=client_ca,
        no_mtls=no_mtls,
        token_file=token_file,
        insecure=insecure,
        config=config,
        scenario=scenario,
        seed=seed,
        grace=grace,
    )
    try:
        prepared = prepare(opts)
    except UsageError as exc:
        raise _fail(str(exc), 2) from None
    except ConfigError as exc:
        raise _config_errors(exc.errors) from None

    def announce(address: str) -> None:
        print(f"listening on {address}", flush=True)

    try:
        asyncio.run(run(opts, on_listening=announce, prepared=prepared))
    except ConfigError as exc:
        raise _config_errors(exc.errors) from None
    except Exception as exc:  # one line, not a traceback, for the operator
        logging.getLogger("mmbot.agent").debug("agent failed", exc_info=True)
        raise _fail(str(exc) or type(exc).__name__, 1) from None


def certs_init(
    dir: Annotated[
        Path | None, typer.Option("--dir", help="Where to write. Default: <data-dir>/tls.")
    ] = None,
    hosts: Annotated[
        list[str] | None,
        typer.Option(
            "--hosts",
            help="DNS names/IPs the agent is reached at (repeat or comma-separate). "
            "localhost, 127.0.0.1 and ::1 are always included.",
        ),
    ] = None,
    client_name: Annotated[str, typer.Option(help="Common name of the client cert.")] = "mmbot-ctl",
    days: Annotated[int, typer.Option(min=1, max=3650, help="Validity of the leaf certs.")] = 825,
    force: Annotated[bool, typer.Option("--force", help="Replace existing files.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the file paths as JSON.")] = False,
) -> None:
    """Create a CA, a server certificate and a client certificate (ECDSA P-256)."""
    from agent.certs import CertsExist, init_certs
    from agent.service.paths import default_data_dir, tls_dir

    target = dir or tls_dir(default_data_dir())
    names = [h.strip() for item in hosts or [] for h in item.split(",") if h.strip()]
    try:
        files = init_certs(target, names, client_name=client_name, days=days, force=force)
    except CertsExist as exc:
        raise _fail(str(exc), 2) from None
    except OSError as exc:
        raise _fail(f"cannot write certificates in {target}: {exc.strerror}", 1) from None
    if json_out:
        doc = {
            "dir": str(files.dir),
            "ca_cert": str(files.ca_cert),
            "ca_key": str(files.ca_key),
            "server_cert": str(files.server_cert),
            "server_key": str(files.server_key),
            "client_cert": str(files.client_cert),
            "client_key": str(files.client_key),
            "hosts": ["localhost", "127.0.0.1", "::1", *names],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    typer.echo(f"wrote CA, server and client certificates to {files.dir}")
    typer.echo(
        "  agent: mmbot agent serve --listen 0.0.0.0:50051 "
        f"--tls-cert {files.server_cert} --tls-key {files.server_key} --client-ca {files.ca_cert}"
    )
    typer.echo(
        f"  ctl:   mmbot ctl --agent HOST:50051 --ca {files.ca_cert} "
        f"--cert {files.client_cert} --key {files.client_key} info"
    )
    typer.echo(f"  keep {files.ca_key} offline once you have issued the client certificates")


def register(agent_app: typer.Typer) -> None:
    """Attach `serve` and `certs` to the `mmbot agent` group."""
    agent_app.command("serve")(agent_serve)
    certs_app.command("init")(certs_init)
    agent_app.add_typer(certs_app, name="certs")
