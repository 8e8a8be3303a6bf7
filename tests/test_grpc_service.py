"""Every AgentService RPC over real gRPC on 127.0.0.1, against a sim bot on the real clock."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from agent.events import EventKind, Severity
from agent.proto.mmbot.agent.v1 import agent_pb2 as pb
from agent.service import client
from tests.test_grpc_helpers import USHARK, LiveAgent, emit_fill, live_agent, wait_for

BAD_CONFIG = """
bot: {name: ushark-mm, venue: sim, symbol: USHARK/USDT}
market_making:
  spread_min_pct: 3
  spread_max_pct: 2
  step_pct: -1
  levels_up: 500
"""


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[LiveAgent]:
    async with live_agent(tmp_path / "data") as a:
        yield a


def _cfg_text(**mm: Any) -> str:
    doc = yaml.safe_load(USHARK.read_text())
    doc["market_making"].update(mm)
    return yaml.safe_dump(doc)


async def _code(call: Any) -> tuple[grpc.StatusCode, str, Any]:
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await call
    err = exc.value
    return err.code(), err.details() or "", err


# ---------------------------------------------------------------- info and status


async def test_get_info_lists_the_bot(agent: LiveAgent) -> None:
    r = await agent.stub().GetInfo(pb.GetInfoRequest(), metadata=agent.md)
    assert r.agent_version
    assert r.last_seq == agent.host.bus.last_seq or r.last_seq > 0
    [bot] = r.bots
    assert (bot.name, bot.venue, bot.symbol, bot.state) == (
        "ushark-mm",
        "sim",
        "USHARK/USDT",
        "RUNNING",
    )
    assert bot.config_version == 1
    assert bot.capabilities.batch_create and bot.capabilities.max_batch_create > 1
    assert not bot.has_credentials


async def test_get_status_keeps_decimals_exact(agent: LiveAgent) -> None:
    stub = agent.stub()
    r = await stub.GetStatus(pb.GetStatusRequest(bot="ushark-mm"), metadata=agent.md)
    assert r.state == "RUNNING" and r.config_version == 1
    assert Decimal(r.mid) > 0
    local = agent.host.status("ushark-mm")
    by_asset = {b.asset: b for b in r.balances}
    for asset, bal in local["balances"].items():
        assert Decimal(by_asset[asset].total) == bal["total"]
    doc = json.loads(r.status_json)
    assert doc["state"] == "RUNNING" and isinstance(doc["mid"], str)
    # the only bot may be addressed without a name
    r2 = await stub.GetStatus(pb.GetStatusRequest(), metadata=agent.md)
    assert r2.bot == "ushark-mm"


async def test_unknown_bot_is_not_found(agent: LiveAgent) -> None:
    stub = agent.stub()
    for call in (
        stub.GetStatus(pb.GetStatusRequest(bot="nope"), metadata=agent.md),
        stub.Pause(pb.BotCommandRequest(bot="nope"), metadata=agent.md),
        stub.ListOrders(pb.ListOrdersRequest(bot="nope"), metadata=agent.md),
        stub.GetConfig(pb.GetConfigRequest(bot="nope"), metadata=agent.md),
        stub.ApplyConfig(
            pb.ApplyConfigRequest(bot="nope", config_text=USHARK.read_text()), metadata=agent.md
        ),
    ):
        code, details, _ = await _code(call)
        assert code == grpc.StatusCode.NOT_FOUND
        assert "nope" in details


# ---------------------------------------------------------------- commands


async def test_lifecycle_commands_and_refusals(agent: LiveAgent) -> None:
    stub = agent.stub()
    md = agent.md
    req = pb.BotCommandRequest(bot="ushark-mm")
    r = await stub.Pause(req, metadata=md)
    assert (r.command, r.state, r.confirmed) == ("pause", "PAUSED", True)
    code, details, _ = await _code(stub.Pause(req, metadata=md))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "PAUSED" in details
    r = await stub.CancelAll(req, metadata=md)  # while PAUSED: confirmed, state unchanged
    assert (r.state, r.confirmed) == ("PAUSED", True)
    assert (await stub.Resume(req, metadata=md)).state == "RUNNING"
    assert (await stub.Stop(req, metadata=md)).state == "STOPPED"
    code, details, _ = await _code(stub.Resume(req, metadata=md))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert "cannot resume while STOPPED" in details
    assert (await stub.Start(req, metadata=md)).state == "RUNNING"
    r = await stub.Kill(req, metadata=md)
    assert r.state == "STOPPED" and r.confirmed
    st = await stub.GetStatus(pb.GetStatusRequest(), metadata=md)
    assert st.killed and st.open_bids == 0 and st.open_asks == 0


# ---------------------------------------------------------------- configs


async def test_validate_config_previews_the_ladder(agent: LiveAgent) -> None:
    stub = agent.stub()
    r = await stub.ValidateConfig(
        pb.ValidateConfigRequest(config_text=_cfg_text(levels_up=3, levels_down=4)),
        metadata=agent.md,
    )
    assert r.bot == "ushark-mm" and r.current_version == 1
    assert r.HasField("preview")
    assert len(r.preview.asks) == 3 and len(r.preview.bids) == 4
    assert (
        Decimal(r.preview.bids[0].price) < Decimal(r.preview.mid) < Decimal(r.preview.asks[0].price)
    )
    assert json.loads(r.config_json)["market_making"]["levels_up"] == 3
    # JSON text is accepted too; a new bot validates without a preview
    doc = yaml.safe_load(USHARK.read_text())
    doc["bot"]["name"] = "other"
    r = await stub.ValidateConfig(
        pb.ValidateConfigRequest(config_text=json.dumps(doc)), metadata=agent.md
    )
    assert r.bot == "other" and r.current_version == 0 and not r.HasField("preview")


async def test_bad_config_lists_every_field_error_and_changes_nothing(agent: LiveAgent) -> None:
    stub = agent.stub()
    before = agent.host.bots["ushark-mm"].bot.config
    for call in (
        stub.ValidateConfig(pb.ValidateConfigRequest(config_text=BAD_CONFIG), metadata=agent.md),
        stub.ApplyConfig(pb.ApplyConfigRequest(config_text=BAD_CONFIG), metadata=agent.md),
    ):
        code, details, err = await _code(call)
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        errors = client.field_errors(err)
        fields = {e.split(":")[0] for e in errors}
        assert {"market_making.step_pct", "market_making.levels_up"} <= fields
        for e in errors:
            assert e in details
    assert agent.host.bots["ushark-mm"].version == 1
    assert agent.host.bots["ushark-mm"].bot.config == before
    assert agent.host.journal.latest_config("ushark-mm")[0] == 1  # type: ignore[index]
    code, details, err = await _code(
        stub.ValidateConfig(
            pb.ValidateConfigRequest(config_text="bot: [unclosed"), metadata=agent.md
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "(yaml)" in details
    # a field that cannot change on an existing bot
    code, details, _ = await _code(
        stub.ApplyConfig(
            pb.ApplyConfigRequest(
                config_text=USHARK.read_text().replace("USHARK/USDT", "USHARK/USDC")
            ),
            metadata=agent.md,
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "bot.symbol" in details


async def test_apply_config_with_optimistic_concurrency(agent: LiveAgent) -> None:
    stub = agent.stub()
    req = pb.ApplyConfigRequest(
        config_text=_cfg_text(levels_up=5), expected_version=1, comment="narrower", author="t"
    )
    r = await stub.ApplyConfig(req, metadata=agent.md)
    assert (r.bot, r.version) == ("ushark-mm", 2)
    assert agent.host.bots["ushark-mm"].bot.config.market_making.levels_up == 5
    # a second writer that read version 1 loses, and nothing changes
    stale = pb.ApplyConfigRequest(config_text=_cfg_text(levels_up=7), expected_version=1)
    code, details, _ = await _code(stub.ApplyConfig(stale, metadata=agent.md))
    assert code == grpc.StatusCode.ABORTED and "version 2" in details
    code, _, _ = await _code(
        stub.ValidateConfig(
            pb.ValidateConfigRequest(config_text=_cfg_text(), expected_version=1),
            metadata=agent.md,
        )
    )
    assert code == grpc.StatusCode.ABORTED
    assert agent.host.bots["ushark-mm"].bot.config.market_making.levels_up == 5
    cur = await stub.GetConfig(pb.GetConfigRequest(), metadata=agent.md)
    assert cur.version == 2 and json.loads(cur.config_json)["market_making"]["levels_up"] == 5
    old = await stub.GetConfig(pb.GetConfigRequest(version=1), metadata=agent.md)
    assert json.loads(old.config_json)["market_making"]["levels_up"] == 10
    code, _, _ = await _code(stub.GetConfig(pb.GetConfigRequest(version=9), metadata=agent.md))
    assert code == grpc.StatusCode.NOT_FOUND
    # without expected_version the last writer wins
    r = await stub.ApplyConfig(
        pb.ApplyConfigRequest(config_text=_cfg_text(levels_up=6)), metadata=agent.md
    )
    assert r.version == 3
    kinds = [e.kind for e in agent.host.journal.events(0, 10_000, kinds=["config"])]
    assert len(kinds) == 3


# ---------------------------------------------------------------- listings


async def test_list_orders_pages_without_duplicates_while_orders_arrive(
    agent: LiveAgent,
) -> None:
    stub = agent.stub()
    await wait_for(lambda: len(agent.host.journal.orders("ushark-mm", limit=1000)) >= 20)
    journal = agent.host.journal
    await agent.host.command(None, "pause")  # no new orders until the first page is read
    existing = {o.client_order_id for o in journal.orders("ushark-mm", limit=100_000)}
    req = pb.ListOrdersRequest(page_size=7)
    r = await stub.ListOrders(req, metadata=agent.md)
    seen = [o.client_order_id for o in r.orders]
    assert all(Decimal(o.price) > 0 and o.side in ("buy", "sell") for o in r.orders)
    # new orders arrive between pages (quoting resumes); the listing must not shift
    await agent.host.command(None, "resume")
    target = len(existing) + 20
    await wait_for(lambda: len(journal.orders("ushark-mm", limit=100_000)) > target)
    while r.next_page_token:
        req.page_token = r.next_page_token
        r = await stub.ListOrders(req, metadata=agent.md)
        seen += [o.client_order_id for o in r.orders]
    assert len(seen) == len(set(seen)), "an order was listed twice"
    assert set(seen) == existing, "the listing is exactly the orders of its first page's time"
    open_now = await stub.ListOrders(pb.ListOrdersRequest(open_only=True), metadata=agent.md)
    assert open_now.orders and all(o.status not in ("CANCELED", "FILLED") for o in open_now.orders)
    code, _, _ = await _code(
        stub.ListOrders(pb.ListOrdersRequest(page_token="garbage"), metadata=agent.md)
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    # a token of another query is refused
    code, details, _ = await _code(
        stub.ListOrders(
            pb.ListOrdersRequest(open_only=True, page_token=r.next_page_token or req.page_token),
            metadata=agent.md,
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "page_token" in details


async def test_list_fills_is_stable_while_fills_arrive(agent: LiveAgent) -> None:
    stub = agent.stub()
    for n in range(10):
        emit_fill(agent.host, n)
    r1 = await stub.ListFills(pb.ListFillsRequest(page_size=4), metadata=agent.md)
    for n in range(10, 15):  # five new fills land between the pages
        emit_fill(agent.host, n)
    ids = [f.trade_id for f in r1.fills]
    token = r1.next_page_token
    while token:
        r = await stub.ListFills(
            pb.ListFillsRequest(page_size=4, page_token=token), metadata=agent.md
        )
        ids += [f.trade_id for f in r.fills]
        token = r.next_page_token
    sim_fills = [f for f in ids if not f.startswith("t-")]
    assert [i for i in ids if i.startswith("t-")] == [f"t-{n}" for n in range(9, -1, -1)]
    assert len(ids) == len(set(ids)) == 10 + len(sim_fills)
    newest = await stub.ListFills(pb.ListFillsRequest(page_size=1), metadata=agent.md)
    f = newest.fills[0]
    assert f.trade_id == "t-14" and f.price == "0.0020001" and f.fee == "0.001"


async def test_list_events_filters_and_pages(agent: LiveAgent) -> None:
    stub = agent.stub()
    await agent.host.command(None, "pause")
    await agent.host.command(None, "resume")
    r = await stub.ListEvents(pb.ListEventsRequest(kinds=["state"], page_size=2), metadata=agent.md)
    states = list(r.events)
    while r.next_page_token:
        r = await stub.ListEvents(
            pb.ListEventsRequest(kinds=["state"], page_size=2, page_token=r.next_page_token),
            metadata=agent.md,
        )
        states += r.events
    tos = [json.loads(e.data_json)["to"] for e in states]
    assert tos == ["SYNC_BALANCES", "START_QUOTING", "RUNNING", "PAUSED", "RUNNING"]
    assert [e.seq for e in states] == sorted(e.seq for e in states)
    newest = await stub.ListEvents(
        pb.ListEventsRequest(kinds=["state"], newest_first=True, page_size=1), metadata=agent.md
    )
    assert newest.events[0].seq == states[-1].seq and newest.next_page_token
    nxt = await stub.ListEvents(
        pb.ListEventsRequest(
            kinds=["state"], newest_first=True, page_size=1, page_token=newest.next_page_token
        ),
        metadata=agent.md,
    )
    assert nxt.events[0].seq == states[-2].seq
    agent.host.bus.emit(EventKind.ERROR, "ushark-mm", Severity.ERROR, code="x", message="boom")
    errs = await stub.ListEvents(pb.ListEventsRequest(min_severity="error"), metadata=agent.md)
    assert errs.events and all(e.severity in ("error", "critical") for e in errs.events)
    after = await stub.ListEvents(
        pb.ListEventsRequest(after_seq=states[-1].seq, kinds=["state"]), metadata=agent.md
    )
    assert not after.events
    for bad in (pb.ListEventsRequest(kinds=["nope"]), pb.ListEventsRequest(min_severity="loud")):
        code, _, err = await _code(stub.ListEvents(bad, metadata=agent.md))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert client.field_errors(err)


# ---------------------------------------------------------------- streaming


async def _collect(stream: Any, until_seq: int) -> list[pb.Event]:
    out: list[pb.Event] = []
    async for batch in stream:
        out += batch.events
        if batch.last_seq >= until_seq:
            break
    return out


async def test_stream_events_replays_then_goes_live_and_resumes(agent: LiveAgent) -> None:
    stub = agent.stub()
    exact = Decimal("0.10000000000000000000000000001")
    first = await _collect(
        stub.StreamEvents(pb.StreamEventsRequest(from_seq=0), metadata=agent.md),
        agent.host.bus.last_seq,
    )
    assert [e.seq for e in first] == list(range(1, len(first) + 1))
    # live: events emitted after the stream started arrive in order
    stream = stub.StreamEvents(pb.StreamEventsRequest(from_seq=first[-1].seq), metadata=agent.md)
    emitted = agent.host.bus.emit(EventKind.WARNING, "ushark-mm", Severity.INFO, amount=exact)
    live = await _collect(stream, emitted.seq)
    stream.cancel()
    assert live[0].seq == first[-1].seq + 1, "gap or duplicate at the resume point"
    assert [e.seq for e in live] == list(range(live[0].seq, live[-1].seq + 1))
    mine = next(e for e in live if e.seq == emitted.seq)
    assert json.loads(mine.data_json)["amount"] == str(exact)
    assert (mine.kind, mine.bot, mine.severity) == ("warning", "ushark-mm", "info")
    # resume from the middle: exactly the events after that seq, nothing twice
    mid = first[len(first) // 2].seq
    again = await _collect(
        stub.StreamEvents(pb.StreamEventsRequest(from_seq=mid), metadata=agent.md), emitted.seq
    )
    assert [e.seq for e in again][: emitted.seq - mid] == list(range(mid + 1, emitted.seq + 1))


async def test_stream_events_filters_but_reports_progress(agent: LiveAgent) -> None:
    stub = agent.stub()
    stream = stub.StreamEvents(
        pb.StreamEventsRequest(from_seq=0, kinds=["fill"], bot="ushark-mm"), metadata=agent.md
    )
    emit_fill(agent.host, 1)
    got = []
    async for batch in stream:
        got += batch.events
        assert batch.last_seq >= batch.events[-1].seq
        if any(json.loads(e.data_json).get("trade_id") == "t-1" for e in got):
            break
    stream.cancel()
    assert {e.kind for e in got} == {"fill"}
    code, _, _ = await _code(
        _first(stub.StreamEvents(pb.StreamEventsRequest(kinds=["bogus"]), metadata=agent.md))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT


async def _first(stream: Any) -> Any:
    async for batch in stream:
        return batch
    return None


# ---------------------------------------------------------------- credentials, health, reflection


async def test_set_credentials_is_write_only(agent: LiveAgent) -> None:
    stub = agent.stub()
    creds = pb.VenueCredentials(api_key="k-123", secret="s-456", extra={"uid": "7"})
    r = await stub.SetCredentials(
        pb.SetCredentialsRequest(bot="ushark-mm", credentials=creds), metadata=agent.md
    )
    assert r.bot == "ushark-mm" and r.updated_at > 0
    assert "s-456" not in r.SerializeToString().decode(errors="replace")
    stored = agent.credentials.get("ushark-mm")
    assert stored is not None and (stored.api_key, stored.secret) == ("k-123", "s-456")
    info = await stub.GetInfo(pb.GetInfoRequest(), metadata=agent.md)
    assert info.bots[0].has_credentials
    code, _, err = await _code(
        stub.SetCredentials(
            pb.SetCredentialsRequest(bot="ushark-mm", credentials=pb.VenueCredentials(api_key="k")),
            metadata=agent.md,
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert client.field_errors(err) == ["credentials.secret: is required"]
    code, _, _ = await _code(
        stub.SetCredentials(
            pb.SetCredentialsRequest(bot="../etc", credentials=creds), metadata=agent.md
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT


async def test_delete_credentials_and_telegram_token(agent: LiveAgent) -> None:
    stub = agent.stub()
    creds = pb.VenueCredentials(api_key="k-123", secret="s-456")
    await stub.SetCredentials(
        pb.SetCredentialsRequest(bot="ushark-mm", credentials=creds), metadata=agent.md
    )
    r = await stub.DeleteCredentials(
        pb.DeleteCredentialsRequest(bot="ushark-mm"), metadata=agent.md
    )
    assert (r.bot, r.existed) == ("ushark-mm", True)
    assert agent.credentials.get("ushark-mm") is None
    info = await stub.GetInfo(pb.GetInfoRequest(), metadata=agent.md)
    assert not info.bots[0].has_credentials
    # again: not an error, and says there was nothing; the bot name may be omitted (one bot)
    r = await stub.DeleteCredentials(pb.DeleteCredentialsRequest(), metadata=agent.md)
    assert (r.bot, r.existed) == ("ushark-mm", False)
    code, _, err = await _code(
        stub.DeleteCredentials(pb.DeleteCredentialsRequest(bot="../etc"), metadata=agent.md)
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and client.field_errors(err)

    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    await stub.SetTelegramToken(pb.SetTelegramTokenRequest(token=token), metadata=agent.md)
    assert agent.credentials.telegram_token() == token
    r2 = await stub.DeleteTelegramToken(pb.DeleteTelegramTokenRequest(), metadata=agent.md)
    assert r2.existed and agent.credentials.telegram_token() is None
    r2 = await stub.DeleteTelegramToken(pb.DeleteTelegramTokenRequest(), metadata=agent.md)
    assert not r2.existed
    # without the agent token: refused, nothing deleted
    await stub.SetTelegramToken(pb.SetTelegramTokenRequest(token=token), metadata=agent.md)
    code, _, _ = await _code(stub.DeleteTelegramToken(pb.DeleteTelegramTokenRequest()))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert agent.credentials.telegram_token() == token


async def test_health_needs_no_token_and_reflection_lists_the_service(agent: LiveAgent) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    ch = client.aio_channel(agent.target)
    agent.channels.append(ch)
    health = health_pb2_grpc.HealthStub(ch)
    for service in ("", "mmbot.agent.v1.AgentService"):
        r = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert r.status == health_pb2.HealthCheckResponse.SERVING
    refl = reflection_pb2_grpc.ServerReflectionStub(ch)

    async def services(md: Any) -> list[str]:
        req = reflection_pb2.ServerReflectionRequest(list_services="")
        async for resp in refl.ServerReflectionInfo(iter([req]), metadata=md):
            return [s.name for s in resp.list_services_response.service]
        return []

    assert "mmbot.agent.v1.AgentService" in await services(agent.md)
    code, _, _ = await _code(services(()))
    assert code == grpc.StatusCode.UNAUTHENTICATED
