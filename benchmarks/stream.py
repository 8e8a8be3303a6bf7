"""StreamEvents on loopback: events/s delivered to 1 and to 10 subscribers, and the delay from
an event being journaled to a subscriber receiving it.

The agent side runs here exactly as `mmbot agent serve` runs it (AgentHost + journal + grpc.aio
server on one loop, token auth, plaintext loopback); the subscribers run in a separate process
(`--client`), so the two sides do not share an interpreter lock. Events are status-like
documents with Decimals, emitted through the real bus, so every one is committed to the SQLite
journal before any subscriber can see it.

- live: subscribers are attached, then the agent emits `--events` as fast as it can; the rate
  is what every subscriber received per second (the journal commit per event bounds it).
- replay: the same number of already journaled events, streamed from seq 0 (catch-up speed).
- latency: `--latency-rate` events/s for `--latency-seconds`; per event and subscriber the
  delay from the journal commit to the subscriber's receipt (same machine, same clock).

The role of an event is marked by its `bot` field, so the client never parses JSON.

    python -m benchmarks.stream [--events 100000] [--latency-rate 1000] [--latency-seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

READY, BENCH, LAT, END = "bench-ready", "bench", "bench-lat", "bench-end"
TOKEN = "benchmark-token-0123456789abcdef"


# ---------------------------------------------------------------- subscriber process


async def _subscribe(target: str, from_seq: int, latency: bool, ready: asyncio.Event) -> Any:
    from agent.proto.mmbot.agent.v1 import agent_pb2 as pb
    from agent.service import client

    ch = client.aio_channel(target)
    stub = client.stub(ch)
    count = messages = 0
    t_first = t_end = 0.0
    recv: list[tuple[int, float]] = []
    try:
        stream = stub.StreamEvents(
            pb.StreamEventsRequest(from_seq=from_seq), metadata=client.metadata(TOKEN)
        )
        async for batch in stream:
            now = time.time()
            events = batch.events
            if not ready.is_set():
                ready.set()
            messages += 1
            if latency:
                recv.extend((e.seq, now) for e in events if e.bot == LAT)
            else:
                if not t_first and events[-1].bot == BENCH:
                    t_first = now
                count += len(events)
            if events[-1].bot == END:
                t_end = now
                break
    finally:
        await ch.close()
    return {"events": count, "messages": messages, "t_first": t_first, "t_end": t_end, "recv": recv}


async def _client(target: str, subscribers: int, from_seq: int, latency: bool) -> None:
    readies = [asyncio.Event() for _ in range(subscribers)]
    tasks = [asyncio.create_task(_subscribe(target, from_seq, latency, r)) for r in readies]
    await asyncio.gather(*(r.wait() for r in readies))
    print("ready", flush=True)
    results = await asyncio.gather(*tasks)
    print(json.dumps(results), flush=True)


# ---------------------------------------------------------------- agent side


class Agent:
    """AgentHost + AgentServer on this loop, as `agent serve` runs them (no bots)."""

    def __init__(self, data_dir: Path) -> None:
        from agent.clock import Clock
        from agent.credentials import CredentialStore
        from agent.host import AgentHost
        from agent.service.address import ListenAddress
        from agent.service.server import AgentServer, SecurityPlan

        clock = Clock(asyncio.get_running_loop())
        self.host = AgentHost(data_dir, clock, _no_venue)
        self.server = AgentServer(
            self.host,
            CredentialStore(data_dir),
            token=TOKEN,
            security=SecurityPlan(),
            listen=ListenAddress("127.0.0.1", 0),
        )
        self.journaled: dict[int, float] = {}
        # registered after the journal: called once the event's transaction has committed
        self.host.bus.subscribe(self._stamp, durable=True)

    def _stamp(self, ev: Any) -> None:
        if ev.bot == LAT:
            self.journaled[ev.seq] = time.time()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def emit(self, bot: str, i: int) -> None:
        from agent.events import EventKind, Severity

        self.host.bus.emit(
            EventKind.STATUS,
            bot,
            Severity.DEBUG,
            state="RUNNING",
            mid=Decimal("0.0020005") + Decimal(i % 100) / Decimal(10**7),
            spread=Decimal("0.000009"),
            open_bids=10,
            open_asks=10,
            base=Decimal("2480679"),
            quote=Decimal("5038.699866395"),
            pnl_quote=Decimal("0.048205895"),
            fills=i,
            volume_quote=Decimal("38.738605"),
        )


def _no_venue(config: Any, clock: Any) -> Any:
    raise RuntimeError("the stream benchmark runs no bots")


async def _spawn_client(agent: Agent, subscribers: int, from_seq: int, latency: bool) -> Any:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.stream",
        "--client",
        agent.target,
        "--subscribers",
        str(subscribers),
        "--from-seq",
        str(from_seq),
        *(["--latency"] if latency else []),
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parent.parent,
        limit=1 << 28,  # the latency results are one long JSON line
    )
    assert proc.stdout is not None
    return proc


async def _until_ready(agent: Agent, proc: Any) -> None:
    """Emit readiness markers until every subscriber has one (they are attached by then)."""
    line = asyncio.create_task(proc.stdout.readline())
    i = 0
    while not line.done():
        agent.emit(READY, i)
        i += 1
        await asyncio.wait([line], timeout=0.05)
    assert line.result().strip() == b"ready", line.result()


async def _results(proc: Any) -> list[dict[str, Any]]:
    out = json.loads(await proc.stdout.readline())
    await proc.wait()
    return list(out)


async def _emit_burst(agent: Agent, n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        agent.emit(BENCH, i)
        if i % 200 == 199:
            await asyncio.sleep(0)  # let the server write to the streams, as a live agent does
    agent.emit(END, 0)
    return n / (time.perf_counter() - t0)


def _rate(results: list[dict[str, Any]], n: int) -> dict[str, Any]:
    rates = [n / (r["t_end"] - r["t_first"]) for r in results if r["t_end"] > r["t_first"]]
    per_msg = sum(r["events"] for r in results) / max(1, sum(r["messages"] for r in results))
    return {
        "events_per_s_per_subscriber": round(min(rates)) if rates else None,
        "events_per_s_total": round(sum(rates)) if rates else None,
        "events_per_message": round(per_msg, 1),
    }


async def live(agent: Agent, subscribers: int, n: int) -> dict[str, Any]:
    proc = await _spawn_client(agent, subscribers, agent.host.bus.last_seq, latency=False)
    await _until_ready(agent, proc)
    emit_rate = await _emit_burst(agent, n)
    out = _rate(await _results(proc), n)
    out["journal_emit_events_per_s"] = round(emit_rate)
    return out


async def replay(agent: Agent, subscribers: int, n: int) -> dict[str, Any]:
    start = agent.host.bus.last_seq
    for i in range(n):
        agent.emit(BENCH, i)
    agent.emit(END, 0)
    proc = await _spawn_client(agent, subscribers, start, latency=False)
    await proc.stdout.readline()  # "ready": the replay has begun
    return _rate(await _results(proc), n)


async def latency(agent: Agent, subscribers: int, rate: float, seconds: float) -> dict[str, Any]:
    proc = await _spawn_client(agent, subscribers, agent.host.bus.last_seq, latency=True)
    await _until_ready(agent, proc)
    agent.journaled.clear()
    interval = 1.0 / rate
    t0 = time.perf_counter()
    i = 0
    while time.perf_counter() - t0 < seconds:
        agent.emit(LAT, i)
        i += 1
        await asyncio.sleep(max(0.0, t0 + i * interval - time.perf_counter()))
    await asyncio.sleep(0.2)
    agent.emit(END, 0)
    results = await _results(proc)
    delays = sorted((t - agent.journaled[seq]) * 1e3 for r in results for seq, t in r["recv"])
    expected = len(agent.journaled) * subscribers
    return {
        "events": len(agent.journaled),
        "rate_per_s": rate,
        "received": len(delays),
        "lost": expected - len(delays),
        "p50_ms": round(_pct(delays, 0.50), 3),
        "p99_ms": round(_pct(delays, 0.99), 3),
        "max_ms": round(delays[-1], 3),
    }


def _pct(sorted_vals: list[float], q: float) -> float:
    idx = min(len(sorted_vals) - 1, max(0, round(q * (len(sorted_vals) - 1))))
    return sorted_vals[idx]


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mmbot-stream-bench-") as tmp:
        agent = Agent(Path(tmp))
        await agent.server.start()
        try:
            out: dict[str, Any] = {}
            for subs in (1, 10):
                out[f"live_{subs}"] = await live(agent, subs, args.events)
            for subs in (1, 10):
                out[f"replay_{subs}"] = await replay(agent, subs, args.events)
            for subs in (1, 10):
                out[f"latency_{subs}"] = await latency(
                    agent, subs, args.latency_rate, args.latency_seconds
                )
        finally:
            await agent.server.stop(0)
            await agent.host.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--latency-rate", type=float, default=1000.0)
    p.add_argument("--latency-seconds", type=float, default=3.0)
    p.add_argument("--client", help=argparse.SUPPRESS)
    p.add_argument("--subscribers", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--from-seq", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--latency", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.client:
        asyncio.run(_client(args.client, args.subscribers, args.from_seq, args.latency))
        return
    results = asyncio.run(bench(args))
    doc = {
        "benchmark": "stream",
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
        },
        "events": args.events,
        "batch_max_events": 500,
        **results,
    }
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
