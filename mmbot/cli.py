"""The `mmbot` console script. Heavy imports stay inside commands so `--help` is instant.

Exit codes: 0 success, 1 refused/failed, 2 invalid input (usage or configuration).
"""

from __future__ import annotations

import asyncio
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mmbot import agent_service_cli, controlplane_cli, ctl, exchange_sim_cli, provision_cli

app = typer.Typer(
    name="mmbot",
    help="mmbot: market making and volume engine for crypto spot markets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
agent_app = typer.Typer(help="Run the trading agent.", no_args_is_help=True)
app.add_typer(agent_app, name="agent")

# gRPC agent (`agent serve`, `agent certs init`) and its client (`ctl`); both import only typer
# at module level, so registering them keeps `mmbot --help` fast.
agent_service_cli.register(agent_app)
app.add_typer(ctl.app, name="ctl")
# `mmbot provision`: ansible_runner and rich load inside the command.
provision_cli.register(app)
exchange_sim_cli.register(app)  # `mmbot exchange-sim` (Gate-protocol emulator)
app.add_typer(controlplane_cli.app, name="controlplane")  # serve | migrate | user


class Speed(StrEnum):
    realtime = "realtime"
    max = "max"


def _config_errors(errors: list[str]) -> None:
    typer.echo("invalid configuration:", err=True)
    for line in errors:
        typer.echo(f"  {line}", err=True)
    raise typer.Exit(2)


@agent_app.command("run")
def agent_run(
    config: Annotated[Path, typer.Option("--config", "-c", help="Bot configuration YAML.")],
    venue: Annotated[str | None, typer.Option(help="Venue; defaults to bot.venue.")] = None,
    scenario: Annotated[
        str, typer.Option(help="Simulator scenario: a built-in name or a YAML file.")
    ] = "calm",
    seed: Annotated[int, typer.Option(help="Seed for the simulator and the strategy.")] = 0,
    duration: Annotated[
        float | None, typer.Option(min=0.001, help="Seconds to run (virtual with --speed max).")
    ] = None,
    speed: Annotated[
        Speed, typer.Option(help="realtime, or max (virtual clock).")
    ] = Speed.realtime,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON summary.")] = False,
    events_out: Annotated[
        Path | None, typer.Option(help="Write every event as a JSON line to this file.")
    ] = None,
    start_at: Annotated[
        float | None,
        typer.Option(help="Start time as UTC epoch seconds (virtual clock only).", hidden=True),
    ] = None,
) -> None:
    """Run one bot until --duration ends or SIGINT/SIGTERM; cancels all orders on the way out."""
    from agent.config import ConfigError, load_config

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        _config_errors(exc.errors)
    if speed is Speed.max and duration is None:
        typer.echo("--speed max needs --duration (a virtual run must end)", err=True)
        raise typer.Exit(2)
    if start_at is not None and speed is not Speed.max:
        typer.echo("--start-at works only with --speed max", err=True)
        raise typer.Exit(2)
    from agent import clock as clock_mod
    from agent.events import json_default
    from agent.runner import RunOptions, VenueUnavailable, run_bot

    opts = RunOptions(
        venue=venue or cfg.bot.venue,
        scenario=scenario,
        seed=seed,
        duration=duration,
        virtual=speed is Speed.max,
        json=json_out,
        events_out=events_out,
        start_at=start_at,
    )
    try:
        result = clock_mod.run(run_bot(cfg, opts), virtual=opts.virtual)
    except ConfigError as exc:
        _config_errors(exc.errors)
    except VenueUnavailable as exc:
        typer.echo(f"venue unavailable: {exc}", err=True)
        raise typer.Exit(1) from None
    if json_out:
        sys.stdout.write(json.dumps(result, default=json_default, indent=2) + "\n")
    else:
        typer.echo(
            f"stopped: state {result['state']}, fills {result['fills']}, "
            f"volume {result['volume_quote']:.2f} {cfg.bot.quote}, "
            f"fees {result['fees_quote']:.4f} {cfg.bot.quote}, "
            f"pnl {result['pnl_quote']:+.4f} {cfg.bot.quote}, "
            f"uptime {result['quote_uptime_pct']:.2f}%, open orders left "
            f"{result['open_orders_after_stop']}"
        )
    raise typer.Exit(0 if result["state"] == "STOPPED" else 1)


@app.command("demo")
def demo(
    listen: Annotated[str, typer.Option(help="HOST:PORT of the console and API.")] = (
        "127.0.0.1:8080"
    ),
    data_dir: Annotated[
        Path | None, typer.Option(help="Data dir (default: MMBOT_DATA_DIR, else ./data/demo).")
    ] = None,
    scenario: Annotated[str, typer.Option(help="Simulator scenario.")] = "calm",
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 0,
    headless: Annotated[bool, typer.Option(help="No web server (smoke tests).")] = False,
    duration: Annotated[
        float | None, typer.Option(min=1, help="Seconds to run, then stop (default: until Ctrl-C).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the bot summary as JSON.")] = (
        False
    ),
    agent_port: Annotated[int, typer.Option(help="Port of the local agent's gRPC API.")] = 50061,
) -> None:
    """Control plane (SQLite) + console + one local agent with one bot on the simulator."""
    from agent.config import ConfigError
    from mmbot.demo import DemoOptions, main_json, run_demo

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        typer.echo("--listen: must look like HOST:PORT, e.g. 127.0.0.1:8080", err=True)
        raise typer.Exit(2)
    if headless and duration is None:
        typer.echo("--headless needs --duration", err=True)
        raise typer.Exit(2)
    opts = DemoOptions(
        listen_host=host,
        listen_port=int(port),
        agent_port=agent_port,
        data_dir=data_dir,
        scenario=scenario,
        seed=seed,
        headless=headless,
        duration=duration,
    )
    try:
        result = asyncio.run(run_demo(opts))
    except ConfigError as exc:
        _config_errors(exc.errors)
    except OSError as exc:
        typer.echo(f"demo failed: {exc}", err=True)
        raise typer.Exit(1) from None
    if result is not None and json_out:
        sys.stdout.write(main_json(result) + "\n")
    elif result is not None:
        typer.echo(f"stopped: {result['state']}, fills {result['fills']}")


@app.command("version")
def version() -> None:
    """Print the version."""
    from mmbot import __version__

    typer.echo(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
