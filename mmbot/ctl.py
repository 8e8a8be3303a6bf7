"""`mmbot ctl`: steer a running agent over gRPC (AgentService).

Exit codes: 0 success; 1 refused or failed (unknown bot, a command the bot's state does not
allow, a version conflict, the agent unreachable) with a one-line reason on stderr; 2 invalid
input (flags, an unreadable file, a configuration with field errors - listed one per line).
Tables by default, one JSON document with --json (`events --follow --json`: one per line).

grpc and the generated stubs are imported inside the commands: `mmbot ctl --help` stays fast.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

app = typer.Typer(
    help="Steer a running agent: status, orders, events, commands, configs.",
    no_args_is_help=True,
)
config_app = typer.Typer(help="Show, validate and apply bot configurations.", no_args_is_help=True)
credentials_app = typer.Typer(help="Venue credentials (write-only).", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(credentials_app, name="credentials")

AGENT_ENV = "MMBOT_AGENT"
DEFAULT_AGENT = "127.0.0.1:50051"

BotOpt = Annotated[
    str | None, typer.Option("--bot", "-b", help="Bot name; may be omitted if there is one.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


@dataclass
class Conn:
    agent: str
    ca: Path | None
    cert: Path | None
    key: Path | None
    token_file: Path | None
    server_name: str | None
    timeout: float


# ---------------------------------------------------------------- errors and output


def _die(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


def _ts(at: float) -> str:
    if not at:
        return "-"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    if title:
        typer.echo(title)
    t = Table(show_edge=False, pad_edge=False)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*["-" if v is None or v == "" else str(v) for v in r])
    # In a pipe rich would wrap at 80 columns; ids and decimals read better unwrapped.
    Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200).print(t)


class Client:
    """A channel to the agent with the token attached; turns every RpcError into an exit."""

    def __init__(self, conn: Conn) -> None:
        from agent.service import client
        from agent.service.address import UsageError, parse_listen
        from agent.service.auth import TokenError, read_token
        from agent.service.paths import TOKEN_FILE_ENV, default_data_dir, tls_dir, token_path

        self.conn = conn
        try:
            addr = parse_listen(conn.agent, "--agent")
            env_token = os.environ.get(TOKEN_FILE_ENV)
            path = conn.token_file or (
                Path(env_token) if env_token else token_path(default_data_dir())
            )
            self.token = read_token(path)
            tls = None
            if conn.ca or conn.cert or conn.key:
                if conn.ca is None:
                    _die("--cert/--key need --ca (the CA that signed the agent's certificate)", 2)
                if (conn.cert is None) != (conn.key is None):
                    _die("--cert and --key go together", 2)
                tls = client.ClientTls.from_files(conn.ca, conn.cert, conn.key, conn.server_name)
            elif not addr.loopback:
                d = tls_dir(default_data_dir())
                ca, cert, key = d / "ca.crt", d / "client.crt", d / "client.key"
                if not ca.exists():
                    _die(
                        f"{conn.agent} is not loopback, so the agent speaks TLS: pass --ca "
                        f"(and --cert/--key for mutual TLS); nothing found in {d}",
                        2,
                    )
                has_client = cert.exists() and key.exists()
                tls = client.ClientTls.from_files(
                    ca,
                    cert if has_client else None,
                    key if has_client else None,
                    conn.server_name,
                )
        except (UsageError, TokenError) as exc:
            hint = (
                ""
                if not isinstance(exc, TokenError)
                else (" (pass --token-file or set MMBOT_AGENT_TOKEN_FILE)")
            )
            _die(f"{exc}{hint}", 2)
        except OSError as exc:
            _die(f"cannot read {exc.filename}: {exc.strerror}", 2)
        self.channel = client.channel(conn.agent, tls)
        self.stub = client.stub(self.channel)
        self.metadata = client.metadata(self.token)
        self._field_errors = client.field_errors

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.channel.close()

    def call(self, method: str, request: Any) -> Any:
        import grpc

        try:
            return getattr(self.stub, method)(
                request, metadata=self.metadata, timeout=self.conn.timeout
            )
        except grpc.RpcError as err:
            self.fail(err)

    def stream(self, request: Any) -> Iterator[Any]:
        return self.stub.StreamEvents(request, metadata=self.metadata)

    def fail(self, err: Any) -> NoReturn:
        import grpc

        code = err.code()
        details = err.details() or ""
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            lines = self._field_errors(err)
            typer.echo("invalid input:" if not lines else "invalid configuration:", err=True)
            for line in lines or details.splitlines():
                typer.echo(f"  {line.strip()}", err=True)
            raise typer.Exit(2)
        if code == grpc.StatusCode.UNAVAILABLE and not details.startswith("venue:"):
            _die(f"agent unreachable at {self.conn.agent}: {_one_line(details)}")
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            _die(f"agent at {self.conn.agent} did not answer within {self.conn.timeout:g} s")
        if code == grpc.StatusCode.UNAUTHENTICATED:
            _die(f"refused by the agent: {_one_line(details)}")
        _die(f"{code.name.lower().replace('_', ' ')}: {_one_line(details)}")


def _conn(ctx: typer.Context) -> Conn:
    conn = ctx.obj
    assert isinstance(conn, Conn)
    return conn


def _pb() -> Any:
    from agent.proto.mmbot.agent.v1 import agent_pb2

    return agent_pb2


@app.callback()
def main(
    ctx: typer.Context,
    agent: Annotated[
        str, typer.Option("--agent", envvar=AGENT_ENV, help="Agent address HOST:PORT.")
    ] = DEFAULT_AGENT,
    ca: Annotated[Path | None, typer.Option(help="CA that signed the agent's certificate.")] = None,
    cert: Annotated[Path | None, typer.Option(help="Client certificate (mutual TLS).")] = None,
    key: Annotated[Path | None, typer.Option(help="Client private key (mutual TLS).")] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            help="Agent token. Default: MMBOT_AGENT_TOKEN_FILE, else <data-dir>/agent.token."
        ),
    ] = None,
    server_name: Annotated[
        str | None, typer.Option(help="Name to check in the agent's certificate.")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds per call.")] = 10.0,
) -> None:
    """Connect to an agent (default 127.0.0.1:50051, plaintext on loopback, TLS elsewhere)."""
    ctx.obj = Conn(agent, ca, cert, key, token_file, server_name, timeout)


# ---------------------------------------------------------------- info and status


@app.command()
def info(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """The agent's version, bots and last event sequence number."""
    pb = _pb()
    with Client(_conn(ctx)) as c:
        r = c.call("GetInfo", pb.GetInfoRequest())
    bots = [
        {
            "name": b.name,
            "venue": b.venue,
            "symbol": b.symbol,
            "state": b.state,
            "config_version": b.config_version,
            "has_credentials": b.has_credentials,
        }
        for b in r.bots
    ]
    if json_out:
        _json({"agent_version": r.agent_version, "last_seq": r.last_seq, "bots": bots})
        return
    typer.echo(f"agent {r.agent_version} at {_conn(ctx).agent}, last event seq {r.last_seq}")
    _table(
        None,
        ["bot", "venue", "symbol", "state", "config", "credentials"],
        [
            [
                b["name"],
                b["venue"],
                b["symbol"],
                b["state"],
                f"v{b['config_version']}",
                "set" if b["has_credentials"] else "-",
            ]
            for b in bots
        ],
    )


@app.command()
def status(ctx: typer.Context, bot: BotOpt = None, json_out: JsonOpt = False) -> None:
    """One bot's live status: state, mid, open orders, balances, PnL."""
    pb = _pb()
    with Client(_conn(ctx)) as c:
        r = c.call("GetStatus", pb.GetStatusRequest(bot=bot or ""))
    if json_out:
        _json(json.loads(r.status_json))
        return
    state = r.state + (f" ({r.state_reason})" if r.state_reason else "")
    _table(
        f"{r.bot} on {r.venue} {r.symbol}",
        ["field", "value"],
        [
            ["state", state + (" [killed]" if r.killed else "")],
            ["config version", r.config_version],
            ["mid", r.mid],
            ["spread", r.spread],
            ["open orders", f"{r.open_bids} bids / {r.open_asks} asks"],
            ["pnl", r.pnl_quote],
            ["pnl today", r.pnl_today_quote],
            ["fees", r.fees_quote],
            ["fills", r.fills],
            ["volume", r.volume_quote],
            ["quote uptime %", f"{r.quote_uptime_pct:.2f}"],
            ["base share %", r.base_share_pct],
            ["target base %", r.inventory_target_base_pct],
        ],
    )
    _table(
        None,
        ["asset", "total", "locked", "free"],
        [[b.asset, b.total, b.locked, b.free] for b in r.balances],
    )


# ---------------------------------------------------------------- orders and fills

LimitOpt = Annotated[int, typer.Option(min=1, max=100_000, help="At most this many rows.")]


def _paged(c: Client, method: str, request: Any, field: str, limit: int) -> list[Any]:
    out: list[Any] = []
    while len(out) < limit:
        request.page_size = min(1000, limit - len(out))
        r = c.call(method, request)
        out.extend(getattr(r, field))
        if not r.next_page_token:
            break
        request.page_token = r.next_page_token
    return out[:limit]


@app.command()
def orders(
    ctx: typer.Context,
    bot: BotOpt = None,
    all_orders: Annotated[
        bool, typer.Option("--all", help="Include filled, cancelled and rejected orders.")
    ] = False,
    limit: LimitOpt = 100,
    json_out: JsonOpt = False,
) -> None:
    """Orders from the journal, newest first (open ones unless --all)."""
    pb = _pb()
    with Client(_conn(ctx)) as c:
        rows = _paged(
            c,
            "ListOrders",
            pb.ListOrdersRequest(bot=bot or "", open_only=not all_orders),
            "orders",
            limit,
        )
    from agent.service.convert import order_doc

    docs = [order_doc(o) for o in rows]
    if json_out:
        _json({"orders": docs})
        return
    _table(
        None,
        ["created", "side", "price", "amount", "filled", "status", "client order id"],
        [
            [
                _ts(d["created_at"]),
                d["side"],
                d["price"],
                d["amount"],
                d["filled"],
                d["status"],
                d["client_order_id"],
            ]
            for d in docs
        ],
    )


@app.command()
def fills(
    ctx: typer.Context, bot: BotOpt = None, limit: LimitOpt = 50, json_out: JsonOpt = False
) -> None:
    """Fills from the journal, newest first."""
    pb = _pb()
    with Client(_conn(ctx)) as c:
        rows = _paged(c, "ListFills", pb.ListFillsRequest(bot=bot or ""), "fills", limit)
    docs = [
        {
            "seq": f.seq,
            "at": f.at,
            "trade_id": f.trade_id,
            "client_order_id": f.client_order_id,
            "side": f.side,
            "price": f.price,
            "amount": f.amount,
            "fee": f.fee,
            "fee_asset": f.fee_asset,
            "liquidity": f.liquidity,
        }
        for f in rows
    ]
    if json_out:
        _json({"fills": docs})
        return
    _table(
        None,
        ["at", "side", "price", "amount", "fee", "liquidity", "trade id"],
        [
            [
                _ts(d["at"]),
                d["side"],
                d["price"],
                d["amount"],
                f"{d['fee']} {d['fee_asset']}",
                d["liquidity"],
                d["trade_id"],
            ]
            for d in docs
        ],
    )


# ---------------------------------------------------------------- events


def _event_line(d: dict[str, Any]) -> str:
    fields = {k: v for k, v in d.items() if k not in ("seq", "at", "kind", "bot", "severity")}
    rest = " ".join(
        f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in fields.items()
    )
    return f"{d['seq']:>8} {_ts(d['at'])} {d['bot']} {d['kind']} {d['severity']} {rest}"


@app.command()
def events(
    ctx: typer.Context,
    bot: BotOpt = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events (Ctrl-C ends).")
    ] = False,
    from_seq: Annotated[
        int | None, typer.Option(min=0, help="Events with seq > N (oldest first).")
    ] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", "-k", help="Only this kind (repeatable).")
    ] = None,
    severity: Annotated[
        str | None, typer.Option("--severity", "-s", help="This severity and worse.")
    ] = None,
    limit: LimitOpt = 20,
    json_out: JsonOpt = False,
) -> None:
    """Events from the journal (the latest, or after --from-seq); --follow streams live.

    --follow resumes after a dropped connection without a gap or a duplicate.
    """
    from agent.service.convert import event_dict

    pb = _pb()
    kinds = [k.strip() for item in kind or [] for k in item.split(",") if k.strip()]
    with Client(_conn(ctx)) as c:
        req = pb.ListEventsRequest(bot=bot or "", kinds=kinds, min_severity=severity or "")
        if from_seq is not None:
            req.after_seq = from_seq
        else:
            req.newest_first = True
        if from_seq is not None and follow:
            rows: list[Any] = []
        else:
            rows = _paged(c, "ListEvents", req, "events", limit)
        if req.newest_first:
            rows.reverse()
        docs = [event_dict(e) for e in rows]
        if not follow:
            if json_out:
                _json({"events": docs})
            else:
                for d in docs:
                    typer.echo(_event_line(d))
            return
        last = docs[-1]["seq"] if docs else (from_seq or 0)
        for d in docs:
            typer.echo(json.dumps(d) if json_out else _event_line(d))
        sys.stdout.flush()
        _follow(c, pb, last, bot or "", kinds, severity or "", json_out)


def _follow(
    c: Client, pb: Any, last: int, bot: str, kinds: list[str], severity: str, json_out: bool
) -> None:
    import grpc

    from agent.service.convert import event_dict

    delay = 0.5
    while True:
        req = pb.StreamEventsRequest(from_seq=last, bot=bot, kinds=kinds, min_severity=severity)
        try:
            for batch in c.stream(req):
                delay = 0.5
                for e in batch.events:
                    d = event_dict(e)
                    typer.echo(json.dumps(d) if json_out else _event_line(d))
                last = max(last, batch.last_seq)
                sys.stdout.flush()
        except KeyboardInterrupt:
            raise typer.Exit(0) from None
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.UNAVAILABLE:
                c.fail(err)
            typer.echo(
                f"stream interrupted ({_one_line(err.details() or '')}); "
                f"resuming after seq {last} in {delay:g} s",
                err=True,
            )
        try:
            time.sleep(delay)
        except KeyboardInterrupt:
            raise typer.Exit(0) from None
        delay = min(delay * 2, 10.0)


# ---------------------------------------------------------------- commands


def _command(ctx: typer.Context, method: str, bot: str | None, json_out: bool) -> None:
    pb = _pb()
    with Client(_conn(ctx)) as c:
        r = c.call(method, pb.BotCommandRequest(bot=bot or ""))
    doc = {
        "bot": r.bot,
        "command": r.command,
        "state": r.state,
        "confirmed": r.confirmed,
        "message": r.message,
    }
    if json_out:
        _json(doc)
    else:
        typer.echo(f"{r.bot}: {r.command} -> {r.state}")
    if not r.confirmed:
        _die(f"{r.command} not confirmed: {r.message}")


@app.command()
def start(ctx: typer.Context, bot: BotOpt = None, json_out: JsonOpt = False) -> None:
    """Start a bot (from STOPPED this is the restart a kill requires)."""
    _command(ctx, "Start", bot, json_out)


@app.command()
def pause(ctx: typer.Context, bot: BotOpt = None, json_out: JsonOpt = False) -> None:
    """Stop quoting and cancel the bot's orders; resume continues."""
    _command(ctx, "Pause", bot, json_out)


@app.command()
def resume(ctx: typer.Context, bot: BotOpt = None, json_out: JsonOpt = False) -> None:
    """Resume quoting after a pause."""
    _command(ctx, "Resume", bot, json_out)


@app.command()
def stop(ctx: typer.Context, bot: BotOpt = None, json_out: JsonOpt = False) -> None:
    """Stop the bot and cancel its orders."""
    _command(ctx, "Stop", bot, json_out)


@app.command("cancel-all")
def cancel_all(ctx: typer.Context, bot: BotOpt = None, json_out: JsonOpt = False) -> None:
    """Cancel every order of the bot and confirm with the venue."""
    _command(ctx, "CancelAll", bot, json_out)


@app.command()
def kill(ctx: typer.Context, bot: BotOpt = None, json_out: JsonOpt = False) -> None:
    """Kill switch: cancel everything, stop, refuse to quote until an explicit start."""
    _command(ctx, "Kill", bot, json_out)


# ---------------------------------------------------------------- configs


def _read_config(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        _die(f"cannot read {path}: {exc.strerror}", 2)
    except UnicodeDecodeError:
        _die(f"{path} is not UTF-8 text", 2)


@config_app.command("show")
def config_show(
    ctx: typer.Context,
    bot: BotOpt = None,
    version: Annotated[int, typer.Option(min=0, help="A past version; 0 = current.")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """The bot's configuration (YAML; --json for JSON)."""
    import yaml

    pb = _pb()
    with Client(_conn(ctx)) as c:
        r = c.call("GetConfig", pb.GetConfigRequest(bot=bot or "", version=version))
    cfg = json.loads(r.config_json)
    if json_out:
        _json({"bot": r.bot, "version": r.version, "config": cfg})
        return
    typer.echo(f"# {r.bot}: config version {r.version}")
    sys.stdout.write(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))


@config_app.command("validate")
def config_validate(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Configuration YAML or JSON.")],
    bot: BotOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Validate a configuration with the agent's rules and preview the ladder; changes nothing."""
    pb = _pb()
    text = _read_config(file)
    with Client(_conn(ctx)) as c:
        r = c.call("ValidateConfig", pb.ValidateConfigRequest(bot=bot or "", config_text=text))
    p = r.preview if r.HasField("preview") else None
    preview = None
    if p is not None:
        preview = {
            "mid": p.mid,
            "spread_pct": p.spread_pct,
            "bids": [{"price": q.price, "amount": q.amount, "level": q.level} for q in p.bids],
            "asks": [{"price": q.price, "amount": q.amount, "level": q.level} for q in p.asks],
            "budget_used_quote": p.budget_used_quote,
            "budget_used_base": p.budget_used_base,
            "dropped": [{"side": d.side, "level": d.level, "reason": d.reason} for d in p.dropped],
        }
    if json_out:
        _json(
            {
                "valid": True,
                "bot": r.bot,
                "current_version": r.current_version,
                "config": json.loads(r.config_json),
                "preview": preview,
            }
        )
        return
    known = f"current version {r.current_version}" if r.current_version else "not on this agent"
    typer.echo(f"valid: {r.bot} ({known})")
    if preview is None:
        typer.echo("no ladder preview (the bot is not on this agent or has no market data yet)")
        return
    rows = [["ask", q["level"], q["price"], q["amount"]] for q in reversed(preview["asks"])]
    rows += [["bid", q["level"], q["price"], q["amount"]] for q in preview["bids"]]
    _table(
        f"ladder at mid {preview['mid']}, spread {preview['spread_pct']}%",
        ["side", "level", "price", "amount"],
        rows,
    )
    for d in preview["dropped"]:
        typer.echo(f"dropped {d['side']} level {d['level']}: {d['reason']}")


@config_app.command("apply")
def config_apply(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Configuration YAML or JSON.")],
    bot: BotOpt = None,
    expected_version: Annotated[
        int | None,
        typer.Option(min=0, help="Refuse if the bot's current version is not this one."),
    ] = None,
    comment: Annotated[str, typer.Option(help="Recorded with the new version.")] = "",
    json_out: JsonOpt = False,
) -> None:
    """Take a configuration live (a new version); invalid ones change nothing (exit 2)."""
    pb = _pb()
    text = _read_config(file)
    req = pb.ApplyConfigRequest(
        bot=bot or "", config_text=text, author=f"ctl:{_user()}", comment=comment
    )
    if expected_version is not None:
        req.expected_version = expected_version
    with Client(_conn(ctx)) as c:
        r = c.call("ApplyConfig", req)
    if json_out:
        _json({"bot": r.bot, "version": r.version})
    else:
        typer.echo(f"applied: {r.bot} config version {r.version}")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


# ---------------------------------------------------------------- credentials


@credentials_app.command("set")
def credentials_set(
    ctx: typer.Context,
    bot: BotOpt = None,
    stdin: Annotated[
        bool,
        typer.Option(
            "--stdin",
            help='Read {"api_key", "secret", "passphrase", "extra"} as JSON from stdin.',
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Store a bot's venue API key (prompted, never echoed); it can never be read back."""
    pb = _pb()
    if stdin:
        try:
            doc = json.loads(sys.stdin.read())
            if not isinstance(doc, dict):
                raise ValueError
        except ValueError:
            _die("--stdin expects a JSON object with api_key and secret", 2)
        extra = doc.get("extra") or {}
        if not isinstance(extra, dict):
            _die("--stdin: extra must be an object of strings", 2)
        creds = pb.VenueCredentials(
            api_key=str(doc.get("api_key", "")),
            secret=str(doc.get("secret", "")),
            passphrase=str(doc.get("passphrase", "")),
            extra={str(k): str(v) for k, v in extra.items()},
        )
    else:
        creds = pb.VenueCredentials(
            api_key=typer.prompt("API key", hide_input=True),
            secret=typer.prompt("API secret", hide_input=True),
            passphrase=typer.prompt(
                "Passphrase (empty if none)", hide_input=True, default="", show_default=False
            ),
        )
    with Client(_conn(ctx)) as c:
        r = c.call("SetCredentials", pb.SetCredentialsRequest(bot=bot or "", credentials=creds))
    if json_out:
        _json({"bot": r.bot, "updated_at": r.updated_at})
    else:
        typer.echo(f"stored credentials for {r.bot} (write-only: they cannot be read back)")


@credentials_app.command("delete")
def credentials_delete(
    ctx: typer.Context,
    bot: BotOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Delete a bot's stored venue credentials. A running bot keeps the keys it loaded until
    it is restarted."""
    pb = _pb()
    if not yes and not typer.confirm(f"Delete the stored venue credentials of {bot or 'the bot'}?"):
        _die("not deleted", 1)
    with Client(_conn(ctx)) as c:
        r = c.call("DeleteCredentials", pb.DeleteCredentialsRequest(bot=bot or ""))
    if json_out:
        _json({"bot": r.bot, "existed": r.existed})
    elif r.existed:
        typer.echo(f"deleted the credentials of {r.bot}")
    else:
        typer.echo(f"{r.bot} had no stored credentials")


# ---------------------------------------------------------------- Telegram


@app.command("telegram-token")
def telegram_token(
    ctx: typer.Context,
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the token from stdin (first line).")
    ] = False,
    delete: Annotated[
        bool, typer.Option("--delete", help="Delete the stored token instead of setting one.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Store the agent's Telegram bot token (prompted, never echoed); it can never be read back.

    Never pass the token as an argument: it would end up in the shell history and `ps`.
    """
    pb = _pb()
    if delete:
        if stdin:
            _die("--delete and --stdin do not go together", 2)
        with Client(_conn(ctx)) as c:
            d = c.call("DeleteTelegramToken", pb.DeleteTelegramTokenRequest())
        if json_out:
            _json({"existed": d.existed})
        else:
            typer.echo("deleted the Telegram bot token" if d.existed else "no token was stored")
        return
    if stdin:
        lines = sys.stdin.read().splitlines()
        token = lines[0].strip() if lines else ""
    else:
        token = typer.prompt("Telegram bot token", hide_input=True, default="", show_default=False)
        token = token.strip()
    if not token:
        _die("no token given (from @BotFather: <bot id>:<secret>)", 2)
    with Client(_conn(ctx)) as c:
        r = c.call("SetTelegramToken", pb.SetTelegramTokenRequest(token=token))
    if json_out:
        _json({"updated_at": r.updated_at})
    else:
        typer.echo("stored the Telegram bot token (write-only: it cannot be read back)")


@app.command("notify-test")
def notify_test(ctx: typer.Context, bot: BotOpt = None, json_out: JsonOpt = False) -> None:
    """Send a test message to every chat of the bot's notifications.telegram block."""
    pb = _pb()
    with Client(_conn(ctx)) as c:
        r = c.call("NotifyTest", pb.NotifyTestRequest(bot=bot or ""))
    chats = list(r.chat_ids)
    if json_out:
        _json({"chat_ids": chats})
    else:
        typer.echo(f"sent to chats {', '.join(str(chat) for chat in chats)}")
