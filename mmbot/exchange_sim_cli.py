"""`mmbot exchange-sim`: a local Gate-protocol exchange to rehearse a live setup without funds.

Only typer is imported at module level; aiohttp and the simulator load when the command runs,
so `mmbot --help` stays fast.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

SUPPORTED_VENUES = ("gate",)


def exchange_sim(
    venue: Annotated[str, typer.Option(help="Protocol to speak: gate.")] = "gate",
    listen: Annotated[str, typer.Option(help="HOST:PORT to serve on.")] = "127.0.0.1:8765",
    scenario: Annotated[
        str, typer.Option(help="Market scenario: a built-in name or a YAML file.")
    ] = "calm",
    seed: Annotated[int, typer.Option(help="Seed of the synthetic market.")] = 0,
    account: Annotated[
        list[str] | None,
        typer.Option(help="API key as KEY:SECRET (repeatable). The secret is never printed."),
    ] = None,
    balances: Annotated[
        str | None,
        typer.Option(help="Starting balances, e.g. USDT=10000,USHARK=2000000 (default: scenario)."),
    ] = None,
    poc_reject: Annotated[
        bool,
        typer.Option(
            "--poc-reject/--poc-finish",
            help="Post-only that would take: 400 POC_FILL_IMMEDIATELY, or 201 finish_as=poc.",
        ),
    ] = False,
    no_rate_limits: Annotated[
        bool, typer.Option("--no-rate-limits", help="Do not enforce Gate's rate limits.")
    ] = False,
    faults: Annotated[
        str | None,
        typer.Option(help="JSON file of initial faults (fields as for POST /_sim/faults)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the endpoints as JSON.")] = False,
) -> None:
    """Serve Gate's spot REST v4 (/api/v4) and WebSocket v4 (/ws/v4/) backed by the simulator."""
    if venue not in SUPPORTED_VENUES:
        typer.echo(f"--venue: {venue!r} is not emulated (supported: gate)", err=True)
        raise typer.Exit(2)
    host, sep, port_s = listen.rpartition(":")
    if not sep or not host or not port_s.isdigit() or not 0 <= int(port_s) < 65536:
        typer.echo("--listen must look like HOST:PORT, e.g. 127.0.0.1:8765", err=True)
        raise typer.Exit(2)
    from agent.exchange_sim.config import (
        AccountSpec,
        EmulatorConfig,
        parse_account,
        parse_balances,
    )
    from agent.venues.sim.scenarios import ScenarioError, load_scenario

    try:
        scen = load_scenario(scenario)
    except ScenarioError as exc:
        typer.echo("invalid scenario:", err=True)
        for line in exc.errors:
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(2) from None
    try:
        bal = parse_balances(balances) if balances else dict(scen.bot_balances)
        accounts: list[AccountSpec] = [parse_account(a, bal) for a in account or []]
    except ValueError as exc:
        typer.echo(f"--account/--balances: {exc}", err=True)
        raise typer.Exit(2) from None
    if not accounts:
        typer.echo("--account KEY:SECRET is required (at least one API key)", err=True)
        raise typer.Exit(2)
    config = EmulatorConfig(
        scenario=scen,
        seed=seed,
        accounts=accounts,
        poc_reject_with_label=poc_reject,
        enforce_rate_limits=not no_rate_limits,
    )
    initial_faults: dict[str, Any] = {}
    if faults:
        try:
            with open(faults, encoding="utf-8") as fh:
                initial_faults = json.load(fh)
            if not isinstance(initial_faults, dict):
                raise ValueError("must be a JSON object")
        except (OSError, ValueError) as exc:
            typer.echo(f"--faults: {exc}", err=True)
            raise typer.Exit(2) from None
    _run(config, host, int(port_s), initial_faults, json_out)


def _run(config: Any, host: str, port: int, initial_faults: dict[str, Any], json_out: bool) -> None:
    import asyncio

    from agent.exchange_sim.server import ExchangeEmulator, serve_forever

    def announce(emu: ExchangeEmulator) -> None:
        if initial_faults:
            emu.faults.update(initial_faults)
        info = {
            "venue": "gate",
            "url": emu.url,
            "rest": emu.rest_url,
            "websocket": emu.ws_url,
            "accounts": [a.key for a in config.accounts],
            "market": config.scenario.market.symbol,
            "admin": f"{emu.url}/_sim/stats",
        }
        if json_out:
            sys.stdout.write(json.dumps(info) + "\n")
        else:
            typer.echo(
                f"exchange-sim (gate) on {emu.url}: REST {emu.rest_url}, WS {emu.ws_url}\n"
                f"  market {info['market']}, API keys {', '.join(info['accounts'])}\n"
                f"  point a bot at it: MMBOT_GATE_URL={emu.url}   (Ctrl-C stops)"
            )
        sys.stdout.flush()

    try:
        asyncio.run(serve_forever(config, host, port, announce=announce))
    except OSError as exc:
        typer.echo(f"cannot listen on {host}:{port}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None


def register(app: typer.Typer) -> None:
    app.command("exchange-sim")(exchange_sim)
