"""TelegramService: one notifier per agent that follows the bots' configs and the token."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent.clock import Clock
from agent.config import BotConfig, load_config, parse_config
from agent.events import EventKind, Severity
from agent.host import AgentHost
from agent.notify.ratelimit import RateLimit
from agent.notify.service import TelegramService, token_from_env
from agent.venues.sim import SimVenue, load_scenario
from tests.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "99887766:service-test-token"
CHAT, OTHER_CHAT = 111, 222


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram(TOKEN)
    await server.start()
    yield server
    await server.close()


def config(name: str, fake: FakeTelegram, *, enabled: bool = True, chat: int = CHAT) -> BotConfig:
    data = load_config(ROOT / "examples" / "ushark.yaml").dump()
    data["bot"]["name"] = name
    data["notifications"] = {
        "telegram": {"enabled": enabled, "chat_ids": [chat], "api_base_url": fake.url}
    }
    return parse_config(data)


def test_token_from_env() -> None:
    assert token_from_env({"MMBOT_TELEGRAM_BOT_TOKEN": " 1:abc "}) == "1:abc"
    assert token_from_env({"MMBOT_TELEGRAM_BOT_TOKEN": ""}) is None
    assert token_from_env({}) is None


async def test_service_follows_configs_bots_and_token(
    fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock(asyncio.get_running_loop())
    host = AgentHost(
        tmp_path, clock, lambda cfg, c: SimVenue(load_scenario("calm"), seed=1, clock=c)
    )
    token: dict[str, Any] = {"value": None}
    service = TelegramService(
        host,
        lambda: token["value"],
        check_seconds=0.2,
        rate_limit=RateLimit(0.05, 100, 60.0),
        retry_base_seconds=0.05,
        long_poll_seconds=1,
    )
    try:
        await host.add_bot(config("alpha", fake), start=False)
        await service.start()
        assert service.notifier is None  # enabled, but no token yet
        assert any("no bot token" in r.getMessage() for r in caplog.records)

        token["value"] = TOKEN  # stored while the agent runs
        first = await fake.wait_for(lambda: service.notifier, what="the notifier to start")
        assert first.bot_names == {"alpha"}
        host.bus.emit(EventKind.ERROR, "alpha", Severity.ERROR, code="x", message="hello")
        await fake.wait_for(
            lambda: "alpha · USHARK/USDT: API error x: hello" in "".join(fake.texts(CHAT)),
            what="the alert",
        )

        await host.add_bot(config("beta", fake), start=False)  # same block: joins, no restart
        await fake.wait_for(lambda: first.bot_names == {"alpha", "beta"}, what="beta to join")
        assert service.notifier is first

        await host.add_bot(config("gamma", fake, chat=OTHER_CHAT), start=False)
        await fake.wait_for(
            lambda: any(
                "bot gamma: notifications.telegram differs" in r.getMessage()
                for r in caplog.records
            ),
            what="the warning about gamma",
        )
        assert service.notifier is first and "gamma" not in (first.bot_names or ())

        for name in ("alpha", "beta"):  # turned off from the console: gamma's setup takes over
            await host.apply_config(
                name, config(name, fake, enabled=False).dump(), expected_version=None
            )
        second = await fake.wait_for(
            lambda: service.notifier if service.notifier is not first else None,
            what="the notifier to be replaced",
        )
        assert second.bot_names == {"gamma"} and second.chat_ids == (OTHER_CHAT,)
    finally:
        await service.stop()
        await host.close()
    assert service.notifier is None
