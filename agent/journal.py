"""The durable journal: SQLite in WAL mode in the agent's data dir.

Every event is written (and committed) before anyone else sees it: the journal is the event
bus's durable sink. Orders and fills are projections of the events, written in the same
transaction, so the journal never disagrees with itself. Fills are unique by (bot, trade_id):
a re-delivered fill is harmless. Config versions are stored here too.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from agent.events import Event, EventKind, Severity, json_default

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    bot TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_bot_kind ON events (bot, kind, seq);
CREATE TABLE IF NOT EXISTS orders (
    bot TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    side TEXT NOT NULL,
    price TEXT NOT NULL,
    amount TEXT NOT NULL,
    filled TEXT NOT NULL,
    status TEXT NOT NULL,
    post_only INTEGER NOT NULL,
    tag TEXT NOT NULL,
    venue_order_id TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (bot, client_order_id)
);
CREATE INDEX IF NOT EXISTS orders_open ON orders (bot, status);
CREATE TABLE IF NOT EXISTS fills (
    bot TEXT NOT NULL,
    trade_id TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    side TEXT NOT NULL,
    price TEXT NOT NULL,
    amount TEXT NOT NULL,
    fee TEXT NOT NULL,
    fee_asset TEXT NOT NULL,
    liquidity TEXT NOT NULL,
    at REAL NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (bot, trade_id)
);
CREATE TABLE IF NOT EXISTS configs (
    bot TEXT NOT NULL,
    version INTEGER NOT NULL,
    config TEXT NOT NULL,
    author TEXT NOT NULL,
    comment TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (bot, version)
);
CREATE TABLE IF NOT EXISTS bots (
    bot TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""

TERMINAL_STATUSES = ("FILLED", "CANCELED", "REJECTED")


@dataclass(frozen=True, slots=True)
class JournalOrder:
    bot: str
    client_order_id: str
    side: str
    price: Decimal
    amount: Decimal
    filled: Decimal
    status: str
    post_only: bool
    tag: str
    venue_order_id: str
    created_at: float
    updated_at: float


class Journal:
    """One SQLite file per agent. Thread-safe for the gRPC server's worker threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL: a committed transaction survives a process crash (SIGKILL);
            # only an OS crash can lose the last transactions.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ writing
    def last_seq(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        return int(row[0])

    def __call__(self, ev: Event) -> None:
        """Durable sink for the event bus: one transaction per event."""
        self.write_many([ev])

    def write_many(self, events: list[Event]) -> None:
        """Several events in one transaction (the bus's batches)."""
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                for ev in events:
                    self._write(ev)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _write(self, ev: Event) -> None:
        db = self._db
        data = json.dumps(ev.data, default=json_default, separators=(",", ":"))
        db.execute(
            "INSERT INTO events (seq, at, bot, kind, severity, data) VALUES (?,?,?,?,?,?)",
            (ev.seq, ev.at, ev.bot, ev.kind.value, ev.severity.value, data),
        )
        if ev.kind is EventKind.ORDER:
            self._project_order(ev)
        elif ev.kind is EventKind.FILL:
            self._project_fill(ev)
        elif ev.kind is EventKind.STATE:
            db.execute(
                "INSERT INTO bots (bot, state, reason, updated_at) VALUES (?,?,?,?) "
                "ON CONFLICT(bot) DO UPDATE SET state=excluded.state, "
                "reason=excluded.reason, updated_at=excluded.updated_at",
                (ev.bot, ev.data["to"], ev.data.get("reason", ""), ev.at),
            )

    def _project_order(self, ev: Event) -> None:
        d = ev.data
        self._db.execute(
            "INSERT INTO orders (bot, client_order_id, side, price, amount, filled, status, "
            "post_only, tag, venue_order_id, created_at, updated_at, last_seq) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(bot, client_order_id) DO UPDATE SET "
            "filled=excluded.filled, status=excluded.status, updated_at=excluded.updated_at, "
            "venue_order_id=CASE WHEN excluded.venue_order_id != '' "
            "THEN excluded.venue_order_id ELSE orders.venue_order_id END, "
            "last_seq=excluded.last_seq",
            (
                ev.bot,
                d["client_order_id"],
                d["side"],
                str(d["price"]),
                str(d["amount"]),
                str(d["filled"]),
                d["status"],
                1 if d.get("post_only") else 0,
                d.get("tag", "grid"),
                d.get("venue_order_id", ""),
                ev.at,
                ev.at,
                ev.seq,
            ),
        )

    def _project_fill(self, ev: Event) -> None:
        d = ev.data
        self._db.execute(
            "INSERT OR IGNORE INTO fills (bot, trade_id, client_order_id, side, price, amount, "
            "fee, fee_asset, liquidity, at, seq) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                ev.bot,
                d["trade_id"],
                d["client_order_id"],
                d["side"],
                str(d["price"]),
                str(d["amount"]),
                str(d["fee"]),
                d["fee_asset"],
                d["liquidity"],
                ev.at,
                ev.seq,
            ),
        )

    def add_config(
        self, bot: str, config: dict[str, Any], author: str, comment: str, at: float
    ) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM configs WHERE bot=?", (bot,)
            ).fetchone()
            version = int(row[0]) + 1
            self._db.execute(
                "INSERT INTO configs (bot, version, config, author, comment, at) "
                "VALUES (?,?,?,?,?,?)",
                (bot, version, json.dumps(config, default=json_default), author, comment, at),
            )
        return version

    # ------------------------------------------------------------------ reading
    def events(
        self,
        after_seq: int = 0,
        limit: int = 1000,
        *,
        bot: str | None = None,
        kinds: list[str] | None = None,
        min_severity: Severity | None = None,
        before_seq: int | None = None,
        descending: bool = False,
    ) -> list[Event]:
        sql = "SELECT seq, at, bot, kind, severity, data FROM events WHERE seq > ?"
        args: list[Any] = [after_seq]
        if before_seq is not None:
            sql += " AND seq < ?"
            args.append(before_seq)
        if bot is not None:
            sql += " AND bot = ?"
            args.append(bot)
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            args.extend(kinds)
        if min_severity is not None:
            allowed = _severities_at_least(min_severity)
            sql += f" AND severity IN ({','.join('?' * len(allowed))})"
            args.extend(allowed)
        sql += f" ORDER BY seq {'DESC' if descending else 'ASC'} LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [
            Event(seq, at, EventKind(kind), b, Severity(sev), json.loads(data))
            for seq, at, b, kind, sev, data in rows
        ]

    def iter_events(self, after_seq: int, batch: int = 1000) -> Iterator[list[Event]]:
        while True:
            chunk = self.events(after_seq, batch)
            if not chunk:
                return
            yield chunk
            after_seq = chunk[-1].seq

    def orders(
        self, bot: str, *, open_only: bool = False, limit: int = 1000, offset: int = 0
    ) -> list[JournalOrder]:
        sql = (
            "SELECT bot, client_order_id, side, price, amount, filled, status, post_only, tag, "
            "venue_order_id, created_at, updated_at FROM orders WHERE bot=?"
        )
        if open_only:
            sql += " AND status NOT IN ('FILLED','CANCELED','REJECTED')"
        sql += " ORDER BY created_at DESC, client_order_id LIMIT ? OFFSET ?"
        with self._lock:
            rows = self._db.execute(sql, (bot, limit, offset)).fetchall()
        return [
            JournalOrder(
                r[0],
                r[1],
                r[2],
                Decimal(r[3]),
                Decimal(r[4]),
                Decimal(r[5]),
                r[6],
                bool(r[7]),
                r[8],
                r[9],
                r[10],
                r[11],
            )
            for r in rows
        ]

    def fills(self, bot: str, *, limit: int = 1000, offset: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT trade_id, client_order_id, side, price, amount, fee, fee_asset, "
                "liquidity, at, seq FROM fills WHERE bot=? ORDER BY seq DESC LIMIT ? OFFSET ?",
                (bot, limit, offset),
            ).fetchall()
        keys = (
            "trade_id",
            "client_order_id",
            "side",
            "price",
            "amount",
            "fee",
            "fee_asset",
            "liquidity",
            "at",
            "seq",
        )
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def trade_ids(self, bot: str) -> set[str]:
        with self._lock:
            rows = self._db.execute("SELECT trade_id FROM fills WHERE bot=?", (bot,)).fetchall()
        return {r[0] for r in rows}

    def last_fill_at(self, bot: str) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT MAX(at) FROM fills WHERE bot=?", (bot,)).fetchone()
        return None if row[0] is None else float(row[0])

    def latest_config(self, bot: str) -> tuple[int, dict[str, Any]] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT version, config FROM configs WHERE bot=? ORDER BY version DESC LIMIT 1",
                (bot,),
            ).fetchone()
        return None if row is None else (int(row[0]), json.loads(row[1]))

    def config_version(self, bot: str, version: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT config FROM configs WHERE bot=? AND version=?", (bot, version)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def bots(self) -> dict[str, tuple[str, str]]:
        """Known bots with their last lifecycle state and reason."""
        with self._lock:
            names = [r[0] for r in self._db.execute("SELECT DISTINCT bot FROM configs")]
            states = {
                r[0]: (r[1], r[2]) for r in self._db.execute("SELECT bot, state, reason FROM bots")
            }
        return {n: states.get(n, ("INIT", "")) for n in names}

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES (?,?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )


_ORDER = [Severity.DEBUG, Severity.INFO, Severity.WARNING, Severity.ERROR, Severity.CRITICAL]


def _severities_at_least(s: Severity) -> list[str]:
    return [x.value for x in _ORDER[_ORDER.index(s) :]]
