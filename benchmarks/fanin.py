"""Fan-in: many agents streaming into one control plane on PostgreSQL.

N lightweight fake agents speak the real gRPC API (`mmbot.agent.v1.AgentService`: GetInfo,
GetStatus, GetConfig, ListOrders and StreamEvents with per-agent seqs), all served by one
separate process (so their CPU is not the control plane's) and told apart by their bearer
tokens. Each emits a status event every second and, every `--burst-every` seconds (30) at a
random phase, a burst of `--burst-size` fills (20; an order event and a fill event each): on
average 2.3 events per second per agent, arriving in bursts. One control
plane, as `mmbot controlplane serve` runs it, follows every agent over its own gRPC channel
and archives into a fresh PostgreSQL database.

Measured: for every event, the delay from the agent stamping it (`at`) to the control plane
publishing it, which happens right after the transaction that archived it committed. The
links start from seq 0, so each run first catches up on the history made while connecting
(reported as catch_up_seconds) and then measures the steady state. Reported per N: p50/p99/max
delay and throughput, and the largest N whose p99 stays under 500 ms.

    python -m benchmarks.fanin [--agents 10,50,100] [--seconds 15] [--database-url URL]

The default sweep is small; MMBOT_BENCH_FANIN_AGENTS=100,250,500,1000 runs the big one.
PostgreSQL: --database-url / MMBOT_BENCH_DATABASE_URL, else postgres@127.0.0.1:5432; a
database is created for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

P99_LIMIT_MS = 500.0
CATCH_UP_MAX_SECONDS = 300.0
DEFAULT_AGENTS = "10,50,100"
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TOKEN_PREFIX = "fanin-agent-token-"
STREAM_BATCH = 500


# ---------------------------------------------------------------------- the fake agents


@dataclass
class FakeAgent:
    """One agent: a journal in memory (so a stream can resume from any seq) and its bot."""

    index: int
    config_json: str
    events: list[Any] = field(default_factory=list)
    listeners: set[asyncio.Queue[Any]] = field(default_factory=set)
    fills: int = 0

    @property
    def bot(self) -> str:
        return f"bot-{self.index}"

    def emit(self, kind: str, severity: str, data: dict[str, Any]) -> None:
        from agent.proto.mmbot.agent.v1 import agent_pb2 as pb

        ev = pb.Event(
            seq=len(self.events) + 1,
            at=time.time(),
            kind=kind,
            bot=self.bot,
            severity=severity,
            data_json=json.dumps(data, separators=(",", ":")),
        )
        self.events.append(ev)
        for q in self.listeners:
            q.put_nowait(ev)

    def status(self) -> dict[str, Any]:
        return {
            "name": self.bot,
            "state": "RUNNING",
            "mid": "0.0020001",
            "spread": "0.00001",
            "open_bids": 10,
            "open_asks": 10,
            "base": "1000000",
            "quote": "2000",
            "pnl_quote": f"{self.fills * 0.0001:.4f}",
            "fills": self.fills,
            "volume_quote": f"{self.fills * 2:.2f}",
        }

    def fill(self) -> None:
        self.fills += 1
        coid = f"f{self.index}-{self.fills}"
        price, amount = "0.0020001", "1000"
        order = {
            "client_order_id": coid,
            "venue_order_id": f"v{coid}",
            "side": "buy",
            "price": price,
            "amount": amount,
            "filled": amount,
            "status": "FILLED",
            "post_only": True,
            "tag": "grid",
            "reason": "",
        }
        self.emit("order", "debug", order)
        self.emit(
            "fill",
            "info",
            {
                "client_order_id": coid,
                "trade_id": f"t{coid}",
                "side": "buy",
                "price": price,
                "amount": amount,
                "fee": "0.002",
                "fee_asset": "USDT",
                "liquidity": "maker",
            },
        )


def _servicer(agents: dict[str, FakeAgent]) -> Any:
    import grpc

    from agent.proto.mmbot.agent.v1 import agent_pb2 as pb
    from agent.proto.mmbot.agent.v1 import agent_pb2_grpc as pb_grpc

    async def who(context: Any) -> FakeAgent:
        for k, v in context.invocation_metadata() or ():
            if k == "authorization" and v.startswith("Bearer ") and v[7:] in agents:
                return agents[v[7:]]
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "wrong agent token")
        raise AssertionError("unreachable")

    class FakeAgentService(pb_grpc.AgentServiceServicer):
        async def GetInfo(self, request: Any, context: Any) -> Any:
            a = await who(context)
            return pb.GetInfoResponse(
                agent_version="fake-1",
                last_seq=len(a.events),
                bots=[
                    pb.BotSummary(
                        name=a.bot,
                        venue="sim",
                        symbol="FAKE/USDT",
                        state="RUNNING",
                        config_version=1,
                    )
                ],
            )

        async def GetStatus(self, request: Any, context: Any) -> Any:
            a = await who(context)
            st = a.status()
            return pb.GetStatusResponse(
                bot=a.bot, state="RUNNING", config_version=1, status_json=json.dumps(st)
            )

        async def GetConfig(self, request: Any, context: Any) -> Any:
            a = await who(context)
            return pb.GetConfigResponse(bot=a.bot, version=1, config_json=a.config_json)

        async def ListOrders(self, request: Any, context: Any) -> Any:
            await who(context)
            return pb.ListOrdersResponse()

        async def StreamEvents(self, request: Any, context: Any) -> AsyncIterator[Any]:
            a = await who(context)
            queue: asyncio.Queue[Any] = asyncio.Queue()
            a.listeners.add(queue)  # attached before the replay: no gap, no duplicate
            try:
                last = request.from_seq
                backlog = a.events[last:]
                for i in range(0, len(backlog), STREAM_BATCH):
                    chunk = backlog[i : i + STREAM_BATCH]
                    last = chunk[-1].seq
                    yield pb.EventBatch(events=chunk, last_seq=last)
                while True:
                    out = [ev for ev in [await queue.get()] if ev.seq > last]
                    while not queue.empty() and len(out) < STREAM_BATCH:
                        ev = queue.get_nowait()
                        if ev.seq > last:
                            out.append(ev)
                    if out:
                        last = out[-1].seq
                        yield pb.EventBatch(events=out, last_seq=last)
            finally:
                a.listeners.discard(queue)

    return FakeAgentService()


async def _agent_loop(
    a: FakeAgent, burst_every: float, burst_size: int, rng: random.Random
) -> None:
    await asyncio.sleep(rng.random())  # agents do not tick in lockstep
    next_burst = time.monotonic() + rng.random() * burst_every
    while True:
        a.emit("status", "debug", a.status())
        if burst_size and time.monotonic() >= next_burst:
            for _ in range(burst_size):
                a.fill()
            next_burst += burst_every
        await asyncio.sleep(1.0)


def serve_fakes(n: int, burst_every: float, burst_size: int, port_out: Any) -> None:
    """Process entry point: serve N fake agents on one port until terminated."""
    import grpc

    from agent.config import parse_config
    from agent.proto.mmbot.agent.v1 import agent_pb2_grpc as pb_grpc

    async def main() -> None:
        agents = {}
        for i in range(n):
            cfg = parse_config(
                {"bot": {"name": f"bot-{i}", "venue": "sim", "symbol": "FAKE/USDT"}}
            ).dump()
            agents[f"{TOKEN_PREFIX}{i:05d}"] = FakeAgent(i, json.dumps(cfg))
        from agent.service.server import SERVER_OPTIONS  # the real agent's keepalive rules

        server = grpc.aio.server(options=[*SERVER_OPTIONS, ("grpc.max_concurrent_streams", 1000)])
        pb_grpc.add_AgentServiceServicer_to_server(_servicer(agents), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        rng = random.Random(1)
        tasks = [
            asyncio.create_task(_agent_loop(a, burst_every, burst_size, rng))
            for a in agents.values()
        ]
        port_out.put(port)
        await server.wait_for_termination()
        for t in tasks:
            t.cancel()

    asyncio.run(main())


# ---------------------------------------------------------------------- the control plane


def _pg(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Any:
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"mmbot_fanin_{secrets.token_hex(4)}"
    with psycopg.connect(_pg(admin_url), autocommit=True, connect_timeout=5) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(database=name, drivername="postgresql+psycopg")
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_pg(admin_url), autocommit=True, connect_timeout=5) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def measure(
    n: int, seconds: float, warmup: float, db_url: str, burst_every: float, burst_size: int
) -> dict[str, Any]:
    from controlplane.core.config import Settings
    from controlplane.db import schema
    from controlplane.models import Role
    from controlplane.runtime import ControlPlane
    from controlplane.schemas import AgentCreate
    from controlplane.services import agents, tenants
    from controlplane.services.principal import Principal

    load_before = os.getloadavg()[0]
    ctx = multiprocessing.get_context("spawn")
    port_q = ctx.Queue()
    fakes = ctx.Process(target=serve_fakes, args=(n, burst_every, burst_size, port_q), daemon=True)
    fakes.start()
    port = port_q.get(timeout=60)
    schema.upgrade(db_url)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=db_url,
            data_dir=Path(tmp),
            secret_key="fanin-benchmark-secret-key-0123456789",
            link_backoff_min_seconds=0.2,
        )
        cp = ControlPlane(settings)
        await cp.start()
        try:
            t = await tenants.create_tenant(cp, f"fanin-{n}-{secrets.token_hex(3)}")
            assert t.id is not None
            user = await tenants.create_user(cp, t.id, f"fanin-{secrets.token_hex(4)}", "x" * 12)
            who = Principal(user.id or 0, t.id, user.username, Role.ADMIN)
            sub = cp.pubsub.subscribe("*", maxsize=1_000_000)
            t0 = time.monotonic()
            for i in range(n):
                await agents.register_agent(
                    cp,
                    who,
                    AgentCreate(
                        name=f"fake-{i}",
                        endpoint=f"127.0.0.1:{port}",
                        token=f"{TOKEN_PREFIX}{i:05d}",
                    ),
                )
            while sum(1 for a in cp.live.agents.values() if a.online) < n:
                if time.monotonic() - t0 > 120 + n * 0.5:
                    raise RuntimeError("agents did not all come online")
                await asyncio.sleep(0.2)
            connect_s = time.monotonic() - t0
            # Catch up: the links start from seq 0, so the history the agents made while the
            # others were connecting arrives first. Measure the steady state after it.
            t1 = time.monotonic()
            while time.monotonic() - t1 < CATCH_UP_MAX_SECONDS:
                window = await _window(sub, 1.0)
                if window and _p99(window) < P99_LIMIT_MS / 1000 / 2:
                    break
            catch_up_s = time.monotonic() - t1
            await asyncio.sleep(warmup)
            while sub.get_nowait() is not None:
                pass
            tx_before = _hist_sum(cp, "mmbot_cp_archive_tx_events")
            start = time.monotonic()
            delays = await _window(sub, seconds)
            elapsed = time.monotonic() - start
            tx_after = _hist_sum(cp, "mmbot_cp_archive_tx_events")
            lagged = sub.dropped
            sub.close()
        finally:
            await cp.stop()
            fakes.terminate()
            fakes.join(10)
    delays.sort()
    ms = [d * 1000 for d in delays]

    def pct(p: float) -> float | None:
        return round(ms[min(len(ms) - 1, int(p * len(ms)))], 1) if ms else None

    p99 = pct(0.99)
    return {
        "agents": n,
        "events": len(ms),
        "events_per_second": round(len(ms) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": p99,
        "max_ms": round(ms[-1], 1) if ms else None,
        "mean_ms": round(statistics.fmean(ms), 1) if ms else None,
        "archive_transactions": int(tx_after[1] - tx_before[1]),
        "events_per_transaction": round(
            (tx_after[0] - tx_before[0]) / max(1.0, tx_after[1] - tx_before[1]), 1
        ),
        "connect_all_seconds": round(connect_s, 1),
        "catch_up_seconds": round(catch_up_s, 1),
        "subscriber_dropped": lagged,
        "p99_under_500ms": p99 is not None and p99 < P99_LIMIT_MS,
        # This process, the fake agents and PostgreSQL share the machine: a load average
        # well above them at the start means something else was competing for the cores.
        "load_avg_1m_at_start": round(load_before, 2),
    }


async def _window(sub: Any, seconds: float) -> list[float]:
    """Delays (s) of the events published during the next `seconds`."""
    out: list[float] = []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        msg = sub.get_nowait()  # messages come in bursts: take what is there without a timer
        if msg is None:
            try:
                msg = await asyncio.wait_for(sub.get(), left)
            except TimeoutError:
                break
        if msg.kind == "event":
            out.append(msg.published_at - msg.data["at"])
    return out


def _p99(delays: list[float]) -> float:
    s = sorted(delays)
    return s[min(len(s) - 1, int(0.99 * len(s)))]


def _hist_sum(cp: Any, name: str) -> tuple[float, float]:
    """(sum, count) of a histogram in the control plane's registry."""
    total = count = 0.0
    for metric in cp.metrics.registry.collect():
        if metric.name == name:
            for s in metric.samples:
                if s.name == f"{name}_sum":
                    total = s.value
                elif s.name == f"{name}_count":
                    count = s.value
    return total, count


def machine() -> dict[str, Any]:
    import psycopg

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "psycopg": psycopg.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agents", default=os.environ.get("MMBOT_BENCH_FANIN_AGENTS", DEFAULT_AGENTS))
    p.add_argument("--seconds", type=float, default=15.0, help="measured seconds per N")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds after all are online")
    p.add_argument("--burst-every", type=float, default=30.0, help="seconds between bursts")
    p.add_argument("--burst-size", type=int, default=20, help="fills per burst (2 events each)")
    p.add_argument("--database-url", default=os.environ.get("MMBOT_BENCH_DATABASE_URL", DEFAULT_DB))
    p.add_argument(
        "--stop-after-fail", action="store_true", help="end the sweep at the first N over the limit"
    )
    args = p.parse_args(argv)
    try:
        sweep = sorted({int(x) for x in args.agents.split(",") if x.strip()})
    except ValueError:
        p.error("--agents: comma-separated integers, e.g. 10,50,100")
    if not sweep or min(sweep) < 1 or max(sweep) > 5000:
        p.error("--agents: between 1 and 5000 agents")
    import logging

    logging.basicConfig(level=logging.ERROR)
    runs = []
    with fresh_database(args.database_url) as db_url:
        for n in sweep:
            r = asyncio.run(
                measure(n, args.seconds, args.warmup, db_url, args.burst_every, args.burst_size)
            )
            runs.append(r)
            print(json.dumps(r), file=sys.stderr)
            if args.stop_after_fail and not r["p99_under_500ms"]:
                break
    ok = [r["agents"] for r in runs if r["p99_under_500ms"]]
    out = {
        "benchmark": "fanin",
        "machine": machine(),
        "load": {
            "status_events_per_agent_per_second": 1,
            "burst_every_seconds": args.burst_every,
            "fills_per_burst": args.burst_size,
            "events_per_fill": 2,
        },
        "p99_limit_ms": P99_LIMIT_MS,
        "runs": runs,
        "max_agents_with_p99_under_limit": max(ok) if ok else None,
    }
    sys.stdout.write(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
