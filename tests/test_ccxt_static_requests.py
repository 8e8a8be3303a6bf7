"""ccxt's own static request expectations for Gate (spot cases, tests/data) are met when ccxt
talks to the emulator: what the emulator receives equals what ccxt's fixtures say Gate gets."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import ccxt

from agent.exchange_sim import ExchangeEmulator
from tests.test_gate_helpers import BTC, LTC, gate_client, quiet_config

DATA = Path(__file__).parent / "data" / "gate_static_request_spot.json"


def _strip(node: Any, skip: set[str]) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v, skip) for k, v in node.items() if k not in skip}
    if isinstance(node, list):
        return [_strip(v, skip) for v in node]
    return node


async def test_ccxt_static_request_fixtures_against_the_emulator() -> None:
    fixture = json.loads(DATA.read_text())
    skip = set(fixture["skipKeys"])
    async with ExchangeEmulator(quiet_config(extra_markets=[LTC, BTC])) as emu:
        ex = gate_client(emu)
        ex.options.update(fixture["options"])
        try:
            await ex.load_markets()
            assert emu.rest is not None
            checked = 0
            for case in fixture["cases"]:
                since = emu.rest.log_seq
                method = getattr(ex, _snake(case["method"]))
                # we compare the request, not the (possibly refused) outcome
                with contextlib.suppress(ccxt.BaseError):
                    await method(*case["input"])
                want = urlsplit(case["url"])
                got = [e for e in emu.rest.log if e["seq"] > since and e["path"] == want.path]
                assert got, f"{case['description']}: no request to {want.path}"
                req = got[-1]
                expected_body = case.get("output")
                if expected_body is None and not req["body"]:
                    assert dict(parse_qsl(req["query"])) == dict(parse_qsl(want.query)), case
                else:
                    assert json.loads(req["body"]) is not None
                    assert _strip(json.loads(req["body"]), skip) == _strip(
                        json.loads(expected_body), skip
                    ), case["description"]
                    if req["method"] == "PATCH":  # amend: the params go in the query too
                        assert dict(parse_qsl(req["query"])) == dict(parse_qsl(want.query))
                checked += 1
            assert checked == len(fixture["cases"]) == 18
        finally:
            await ex.close()


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)
