"""`mmbot agent serve`: the agent process. Bots from the journal, the gRPC API, clean shutdown.

One asyncio loop runs everything: the AgentHost (bots, journal, event bus) and the grpc.aio
server, so an RPC calls the host directly with no locks or threads between them. The clock is
real time (`Clock(loop)`).

Everything that can be wrong with the command line (listen address vs TLS, certificate files,
the --config file, the scenario) is checked in `prepare()` before anything is created or bound:
bad input changes nothing and exits with code 2.

Shutdown (SIGTERM/SIGINT): health goes NOT_SERVING, the server stops taking calls (running ones
get a grace period), then every bot stops quoting and cancels its venue orders *without*
recording a lifecycle change. The journal still says RUNNING (or PAUSED), so the next start
resumes exactly that: a restart (deploy, reboot) is not a stop. Orders are cancelled because
nobody watches them while the agent is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent.config import BotConfig, ConfigError, load_config
from agent.service.address import ListenAddress, parse_listen
from agent.service.paths import DEFAULT_LISTEN, default_data_dir, token_path

if TYPE_CHECKING:
    from agent.clock import Clock
    from agent.credentials import CredentialStore
    from agent.host import AgentHost
    from agent.notify.service import TelegramService
    from agent.service.server import SecurityPlan
    from agent.venues.base import Venue
    from agent.venues.sim import Scenario

log = logging.getLogger("mmbot.agent")


@dataclass
class ServeOptions:
    listen: str = DEFAULT_LISTEN
    data_dir: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_ca: Path | None = None
    no_mtls: bool = False
    token_file: Path | None = None
    insecure: bool = False
    config: Path | None = None
    scenario: str = "calm"
    seed: int = 0
    grace: float = 5.0


@dataclass(frozen=True)
class Prepared:
    listen: ListenAddress
    data_dir: Path
    token_file: Path
    security: SecurityPlan
    config: BotConfig | None
    scenario: Scenario


def prepare(opts: ServeOptions) -> Prepared:
    """Validate the whole command line; no side effects. Raises UsageError or ConfigError."""
    from agent.service.server import plan_security
    from agent.venues.sim import load_scenario

    listen = parse_listen(opts.listen)
    data_dir = (opts.data_dir or default_data_dir()).expanduser()
    security = plan_security(
        listen,
        data_dir=data_dir,
        tls_cert=opts.tls_cert,
        tls_key=opts.tls_key,
        client_ca=opts.client_ca,
        insecure=opts.insecure,
        no_mtls=opts.no_mtls,
    )
    cfg = load_config(opts.config) if opts.config is not None else None
    try:
        scenario = load_scenario(opts.scenario)
    except (ValueError, OSError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError([f"--scenario: {exc}"]) from None
    if cfg is not None:
        check_venue(cfg)
    return Prepared(
        listen,
        data_dir,
        opts.token_file or token_path(data_dir),
        security,
        cfg,
        scenario,
    )


def check_venue(config: BotConfig) -> None:
    """Refuse an unknown venue before anything is journaled for the bot."""
    venue = config.bot.venue
    if venue == "sim":
        return
    import ccxt

    if venue not in ccxt.exchanges:
        raise ConfigError(
            [f"bot.venue: {venue!r} is neither 'sim' nor a ccxt exchange id (e.g. 'gate')"]
        )


def make_venue(
    config: BotConfig,
    clock: Clock,
    *,
    scenario: Scenario,
    seed: int,
    credentials: CredentialStore,
) -> Venue:
    """The one place that turns a bot's `venue` into an adapter: the simulator, or a live
    venue through ccxt with the keys from the agent's credential store (else the
    environment, `MMBOT_<VENUE>_API_KEY/SECRET`)."""
    check_venue(config)
    if config.bot.venue == "sim":
        from agent.venues.sim import SimVenue

        return SimVenue(scenario, seed=seed, clock=clock)
    from agent.venues.ccxt_venue import make_ccxt_venue

    return make_ccxt_venue(
        config,
        config.bot.venue,
        clock=clock,
        credentials=credentials.get(config.bot.name),
        seed=seed,
    )


async def halt_bots(host: AgentHost) -> dict[str, bool]:
    """Stop every bot's quoting and cancel its orders, recording no lifecycle change.
    Returns, per bot, whether the venue confirmed that nothing of ours is left open."""
    from agent.venues.base import VenueError

    out: dict[str, bool] = {}
    for name, h in host.bots.items():
        bot = h.bot
        try:
            out[name] = await bot.halt()
        except VenueError as exc:
            log.warning("%s: cancelling orders at shutdown failed: %s", name, exc)
            out[name] = False
        if out[name]:
            log.info("%s: orders cancelled for shutdown; state stays %s", name, bot.state.value)
        else:
            log.error("%s: could not confirm all orders cancelled at shutdown", name)
    return out


async def start_telegram(host: AgentHost, credentials: CredentialStore) -> TelegramService:
    """The agent's Telegram notifier, following the bots' `notifications.telegram` blocks.
    The token is the one stored with SetTelegramToken, else MMBOT_TELEGRAM_BOT_TOKEN; it is
    read on every check, so a token stored while the agent runs is picked up."""
    from agent.credentials import CredentialsError
    from agent.notify.service import TelegramService, token_from_env

    reported: set[str] = set()

    def token() -> str | None:
        try:
            stored = credentials.telegram_token()
        except CredentialsError as exc:
            if str(exc) not in reported:  # asked every few seconds: say it once
                reported.add(str(exc))
                log.error("telegram: %s", exc)
            stored = None
        return stored or token_from_env()

    service = TelegramService(host, token)
    try:
        await service.start()
    except Exception:
        # Alerts are not worth refusing to trade over; the log says why there are none.
        log.exception("telegram: notifications not started")
    return service


class DataDirBusy(OSError):
    """Another agent process owns the data dir."""


def lock_data_dir(data_dir: Path) -> int:
    """Exclusive lock on `<data-dir>/agent.lock` for the process's lifetime: two agents on one
    journal would both trade the same bots. The OS releases it if the process dies."""
    import fcntl

    fd = os.open(data_dir / "agent.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DataDirBusy(f"another agent is running with the data dir {data_dir}") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


async def run(
    opts: ServeOptions,
    *,
    on_listening: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
    prepared: Prepared | None = None,
) -> None:
    """Run the agent until `stop` is set or SIGTERM/SIGINT arrives."""
    p = prepared or prepare(opts)
    p.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = lock_data_dir(p.data_dir)
    try:
        await _serve(p, opts, on_listening, stop or asyncio.Event())
    finally:
        os.close(lock)


async def _serve(
    p: Prepared,
    opts: ServeOptions,
    on_listening: Callable[[str], None] | None,
    stop: asyncio.Event,
) -> None:
    import functools

    from agent.clock import Clock
    from agent.credentials import CredentialStore
    from agent.host import AgentHost
    from agent.service.auth import load_or_create_token
    from agent.service.server import AgentServer

    token = load_or_create_token(p.token_file)
    loop = asyncio.get_running_loop()
    clock = Clock(loop)
    credentials = CredentialStore(p.data_dir)
    factory = functools.partial(
        make_venue, scenario=p.scenario, seed=opts.seed, credentials=credentials
    )
    host = AgentHost(p.data_dir, clock, factory, seed=opts.seed)
    server = AgentServer(host, credentials, token=token, security=p.security, listen=p.listen)
    telegram: TelegramService | None = None
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        port = server.bind()
        await host.load()
        if host.bots:
            log.info("recovered bots from the journal: %s", ", ".join(sorted(host.bots)))
        if p.config is not None:
            name = p.config.bot.name
            if name in host.bots:
                log.info(
                    "bot %s is already in the journal (config version %d); --config ignored",
                    name,
                    host.bots[name].version,
                )
            else:
                await host.add_bot(p.config, author="agent serve --config", comment="first start")
                log.info("added bot %s from --config", name)
        telegram = await start_telegram(host, credentials)
        await server.start()
        if on_listening is not None:
            on_listening(str(ListenAddress(p.listen.host, port)))
        await stop.wait()
        log.info("shutting down")
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        await server.stop(opts.grace)
        await halt_bots(host)
        if telegram is not None:
            await telegram.stop()  # after the halt, so its last alerts still go out
        await host.close()
        log.info("agent stopped")
