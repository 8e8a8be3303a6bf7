"""Telegram wired into `agent serve`: the token stored over gRPC, `ctl notify-test`, alerts.

The agent runs in-process through `agent.serve.run` (the real wiring: TelegramService started
after the bots, stopped at shutdown) with a sim bot whose notifications.telegram block points at
the fake Bot API server on 127.0.0.1. `ctl` runs in a worker thread (it uses blocking gRPC while
the agent answers on this loop).
"""

from __future__ import annotations

import asyncio
import logging
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from agent.config import TELEGRAM_KINDS, ConfigError, load_config, parse_config
from agent.credentials import CredentialStore
from agent.notify import KIND_NAMES
from agent.proto.mmbot.agent.v1 import agent_pb2 as pb
from agent.serve import ServeOptions, run
from agent.service import client
from tests.fake_telegram import FakeTelegram
from tests.test_grpc_helpers import USHARK, ctl_inproc

TOKEN = "12345678:wiring-Test_token-abcdef"
CHAT = 111


@dataclass
class Served:
    address: str
    data_dir: Path
    stub: Any
    md: tuple[tuple[str, str], ...]

    @property
    def token_file(self) -> Path:
        return self.data_dir / "agent.token"

    async def ctl(self, *args: str, stdin: str = "") -> Any:
        return await asyncio.to_thread(
            ctl_inproc, self.address, *args, token_file=self.token_file, stdin=stdin
        )


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram(TOKEN)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def served(
    fake: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Served]:
    monkeypatch.delenv("MMBOT_TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("MMBOT_SECRET_KEY", raising=False)
    doc = load_config(USHARK).dump()
    doc["notifications"] = {
        "telegram": {"enabled": True, "chat_ids": [CHAT], "api_base_url": fake.url}
    }
    cfg = tmp_path / "bot.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    data = tmp_path / "data"
    listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    opts = ServeOptions(listen="127.0.0.1:0", data_dir=data, config=cfg, grace=0.2)
    task = asyncio.create_task(run(opts, on_listening=listening.set_result, stop=stop))
    waiting: set[asyncio.Future[Any]] = {task, listening}
    done, _ = await asyncio.wait(waiting, timeout=20, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()  # raises what went wrong
    address = listening.result()
    channel = client.aio_channel(address, None)
    md = client.metadata((data / "agent.token").read_text().strip())
    try:
        yield Served(address, data, client.stub(channel), md)
    finally:
        await channel.close()
        stop.set()
        await asyncio.wait_for(task, 20)


async def test_token_notify_test_and_alerts(
    served: Served, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []  # every response and ctl output, checked for the token at the end

    # No token yet: refused with the reason, over gRPC and from ctl (exit 1, one line).
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await served.stub.NotifyTest(pb.NotifyTestRequest(), metadata=served.md)
    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no Telegram bot token" in (exc.value.details() or "")
    r = await served.ctl("notify-test")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stderr.strip().startswith("error: ") and "no Telegram bot token" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    info = await served.stub.GetInfo(pb.GetInfoRequest(), metadata=served.md)
    assert not info.has_telegram_token

    # Bad tokens: INVALID_ARGUMENT, and the rule does not quote them.
    for bad in ("", "1234 5678:abc", "nocolon", "abc:def", "123:"):
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await served.stub.SetTelegramToken(
                pb.SetTelegramTokenRequest(token=bad), metadata=served.md
            )
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert not bad or bad not in (exc.value.details() or "")
    r = await served.ctl("telegram-token", "--stdin", stdin="\n")
    assert r.returncode == 2, (r.stdout, r.stderr)

    # Store it (stdin, never argv), then it is known but never shown.
    r = await served.ctl("telegram-token", "--stdin", stdin=TOKEN + "\n")
    assert r.returncode == 0, r.stderr
    seen += [r.stdout, r.stderr]
    path = served.data_dir / "credentials" / "_telegram.enc"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert TOKEN.encode() not in path.read_bytes()
    info = await served.stub.GetInfo(pb.GetInfoRequest(), metadata=served.md)
    assert info.has_telegram_token
    seen.append(str(info))

    # notify-test reaches the chat through the fake Bot API.
    r = await served.ctl("notify-test", "--json")
    assert r.returncode == 0, r.stderr
    assert '"chat_ids"' in r.stdout and str(CHAT) in r.stdout
    seen += [r.stdout, r.stderr]
    r = await served.ctl("notify-test", "--bot", "ushark-mm")
    assert r.returncode == 0 and r.stdout.strip() == f"sent to chats {CHAT}", r.stderr
    seen += [r.stdout, r.stderr]
    assert sum("test message" in t for t in fake.texts(CHAT)) == 2
    r = await served.ctl("notify-test", "--bot", "nope")
    assert r.returncode == 1 and "not found" in r.stderr

    # The running agent picks the stored token up and alerts on a state change.
    await fake.wait_for(
        lambda: fake.of("deleteWebhook"), timeout=15, what="the agent's notifier to start"
    )
    res = await served.stub.Pause(pb.BotCommandRequest(bot="ushark-mm"), metadata=served.md)
    assert res.state == "PAUSED"
    seen.append(str(res))
    await fake.wait_for(
        lambda: any("PAUSED" in t and "ushark-mm" in t for t in fake.texts(CHAT)),
        timeout=10,
        what="the state alert",
    )

    # Delete it from ctl: gone from the store (and the ctl says whether there was one).
    r = await served.ctl("telegram-token", "--delete", "--stdin")
    assert r.returncode == 2, (r.stdout, r.stderr)
    r = await served.ctl("telegram-token", "--delete", "--json")
    assert r.returncode == 0 and '"existed": true' in r.stdout, (r.stdout, r.stderr)
    assert not path.exists()
    r = await served.ctl("telegram-token", "--delete")
    assert r.returncode == 0 and r.stdout.strip() == "no token was stored", r.stderr
    # ...and the bot's venue credentials likewise, after a confirmation (--yes skips it).
    keys = '{"api_key": "k-1", "secret": "s-1"}'
    r = await served.ctl("credentials", "set", "--stdin", stdin=keys)
    assert r.returncode == 0, r.stderr
    r = await served.ctl("credentials", "delete", stdin="n\n")
    assert r.returncode == 1 and (served.data_dir / "credentials" / "ushark-mm.enc").exists()
    r = await served.ctl("credentials", "delete", "--yes")
    assert r.returncode == 0 and "deleted the credentials of ushark-mm" in r.stdout, r.stderr
    assert not (served.data_dir / "credentials" / "ushark-mm.enc").exists()

    for text in seen:
        assert TOKEN not in text
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in (record.exc_text or "")
    assert TOKEN not in caplog.text


def test_credential_store_telegram_token(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path, env={})
    assert store.telegram_token() is None and not store.has_telegram_token()
    assert store.set_telegram_token(TOKEN, now=12.5) == 12.5
    assert store.has_telegram_token() and store.telegram_token() == TOKEN
    assert not store.has("_telegram")  # no bot can be named like the token file
    assert store.delete_telegram_token() and not store.has_telegram_token()
    assert not store.delete_telegram_token()


def test_levels_and_api_base_url_rules() -> None:
    assert set(TELEGRAM_KINDS) == KIND_NAMES
    doc = load_config(USHARK).dump()
    doc["notifications"] = {
        "telegram": {"levels": {"fills": "on", "state": "off"}, "api_base_url": "ftp://x"}
    }
    with pytest.raises(ConfigError) as exc:
        parse_config(doc)
    assert any(
        e.startswith("notifications.telegram.levels: unknown kind 'fills'")
        for e in exc.value.errors
    )
    assert "notifications.telegram.api_base_url: must start with http:// or https://" in (
        exc.value.errors
    )
    doc["notifications"]["telegram"] = {"levels": {k: "silent" for k in TELEGRAM_KINDS}}
    assert parse_config(doc).notifications.telegram.levels["fill"] == "silent"
