"""A local exchange speaking Gate's spot REST v4 and WebSocket v4, backed by the simulator.

- `config`: `EmulatorConfig`, `AccountSpec` and the CLI's parsers.
- `exchange.GateExchange`: Gate's order model over `agent.venues.sim.engine.MatchingEngine`.
- `rest.RestApi`, `ws.WsHub`: the wire protocols; `signing`: HMAC-SHA512 signatures.
- `faults.Faults`: injected failures; `server.ExchangeEmulator`: the aiohttp server.

See docs/exchange-sim.md.
"""

from agent.exchange_sim.config import AccountSpec, EmulatorConfig, parse_account, parse_balances
from agent.exchange_sim.faults import Faults
from agent.exchange_sim.server import ExchangeEmulator

__all__ = [
    "AccountSpec",
    "EmulatorConfig",
    "ExchangeEmulator",
    "Faults",
    "parse_account",
    "parse_balances",
]
