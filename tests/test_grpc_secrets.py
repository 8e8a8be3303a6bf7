"""Secrets are write-only: after a full session through every RPC and every ctl command, the
venue secret is in no response, no log line and no file but its encrypted one."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from agent.proto.mmbot.agent.v1 import agent_pb2 as pb
from agent.service import client
from agent.service.auth import read_token
from mmbot.cli import app
from tests.test_grpc_helpers import ENV_BASE, USHARK, run_ctl, spawn_agent, stop_agent

API_KEY = "AKIA-mmbot-test-api-key-7f3a9c"
SECRET = "sk-mmbot-test-secret-0b1e8d4f2a6c"
PASSPHRASE = "pp-mmbot-test-passphrase-93d1"
UID = "uid-mmbot-test-extra-5521"
NEEDLES = (API_KEY, SECRET, PASSPHRASE, UID)


async def test_a_full_session_never_returns_or_logs_the_secret(tmp_path: Path) -> None:
    data = tmp_path / "data"
    agent = spawn_agent(
        data,
        "--config",
        str(USHARK),
        "--log-level",
        "DEBUG",
        env={"GRPC_VERBOSITY": "DEBUG", "PYTHONASYNCIODEBUG": "1"},
    )
    outputs: list[str] = []
    responses: list[bytes] = []
    try:
        creds = {"api_key": API_KEY, "secret": SECRET, "passphrase": PASSPHRASE}
        r = run_ctl(agent, "credentials", "set", "--stdin", stdin=json.dumps(creds))
        assert r.returncode == 0, r.stderr
        outputs += [r.stdout, r.stderr]
        # every RPC once, raw responses kept
        ch = client.aio_channel(agent.address)
        stub = client.stub(ch)
        md = client.metadata(read_token(agent.token_file))
        ext = pb.VenueCredentials(api_key=API_KEY, secret=SECRET, extra={"uid": UID})
        text = USHARK.read_text()
        # a grpc.aio call starts when created: one after the other, in this order
        calls = [
            lambda: stub.SetCredentials(pb.SetCredentialsRequest(credentials=ext), metadata=md),
            lambda: stub.GetInfo(pb.GetInfoRequest(), metadata=md),
            lambda: stub.GetStatus(pb.GetStatusRequest(), metadata=md),
            lambda: stub.GetConfig(pb.GetConfigRequest(), metadata=md),
            lambda: stub.ValidateConfig(pb.ValidateConfigRequest(config_text=text), metadata=md),
            lambda: stub.ApplyConfig(pb.ApplyConfigRequest(config_text=text), metadata=md),
            lambda: stub.Pause(pb.BotCommandRequest(), metadata=md),
            lambda: stub.CancelAll(pb.BotCommandRequest(), metadata=md),
            lambda: stub.Resume(pb.BotCommandRequest(), metadata=md),
            lambda: stub.ListOrders(pb.ListOrdersRequest(page_size=1000), metadata=md),
            lambda: stub.ListFills(pb.ListFillsRequest(), metadata=md),
            lambda: stub.ListEvents(pb.ListEventsRequest(page_size=1000), metadata=md),
        ]
        for call in calls:
            responses.append((await call()).SerializeToString())
        info = await stub.GetInfo(pb.GetInfoRequest(), metadata=md)
        assert info.bots[0].has_credentials
        async for batch in stub.StreamEvents(pb.StreamEventsRequest(), metadata=md):
            responses.append(batch.SerializeToString())
            if batch.last_seq >= info.last_seq:
                break
        await ch.close()
        # every ctl command (in-process: same code as the console script, much faster)
        runner = CliRunner()
        env = {**ENV_BASE, "MMBOT_AGENT_TOKEN_FILE": str(agent.token_file)}
        base = ["ctl", "--agent", agent.address]
        for args in (
            ["info"],
            ["status"],
            ["orders", "--all"],
            ["fills"],
            ["events", "--from-seq", "0", "--limit", "100000"],
            ["config", "show"],
            ["config", "validate", str(USHARK)],
        ):
            for fmt in ([], ["--json"]):
                res = runner.invoke(app, [*base, *args, *fmt], env=env)
                assert res.exit_code == 0, (args, res.output)
                outputs.append(res.output)
        for args in (["pause"], ["cancel-all", "--json"], ["resume", "--json"]):
            res = runner.invoke(app, [*base, *args], env=env)
            assert res.exit_code == 0, (args, res.output)
            outputs.append(res.output)
    finally:
        assert stop_agent(agent) == 0
    logs = agent.logs()
    assert "stored venue credentials for ushark-mm" in logs and "DEBUG" in logs
    for needle in NEEDLES:
        assert needle not in logs, "a secret reached the agent's log"
        for out in outputs:
            assert needle not in out, "a secret reached ctl's output"
        for raw in responses:
            assert needle.encode() not in raw, "a secret reached a response"
        for f in data.rglob("*"):
            if f.is_file():
                assert needle.encode() not in f.read_bytes(), f"plaintext secret in {f}"
    assert (data / "credentials" / "ushark-mm.enc").exists()
