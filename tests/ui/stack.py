"""A complete console stack for tests and for trying the console by hand: a control plane on
a fresh SQLite file, a real in-process agent (gRPC, sim venue, the ushark example bot)
registered with it, and one admin user.

    python -m tests.ui.stack --port 8080     # then open http://127.0.0.1:8080 (admin / PASSWORD)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from controlplane.core.config import Settings
from controlplane.db import schema
from controlplane.models import Role
from controlplane.runtime import ControlPlane
from controlplane.schemas import AgentCreate
from controlplane.services import agents, auth, tenants
from controlplane.services.principal import Principal
from tests.test_grpc_helpers import live_agent

USERNAME = "admin"
PASSWORD = "correct horse battery staple"


@dataclass
class Stack:
    cp: ControlPlane
    who: Principal
    agent_id: int
    bot_id: int


async def _wait(pred: object, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():  # type: ignore[operator]
        if loop.time() > deadline:
            raise TimeoutError("the test stack did not come up in time")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def console_stack(data_dir: Path, *, role: Role = Role.ADMIN) -> AsyncIterator[Stack]:
    url = f"sqlite+aiosqlite:///{data_dir / 'controlplane.sqlite'}"
    await asyncio.to_thread(schema.upgrade, url)
    settings = Settings(
        database_url=url,
        data_dir=data_dir / "cp",
        secret_key=Fernet.generate_key().decode(),
        link_backoff_min_seconds=0.05,
        link_backoff_max_seconds=0.5,
        link_status_interval_seconds=0.5,
        link_rpc_timeout_seconds=5.0,
    )
    cp = ControlPlane(settings)
    await cp.start()
    try:
        async with live_agent(data_dir / "agent") as agent:
            tenant = await tenants.create_tenant(cp, "acme")
            assert tenant.id is not None
            await tenants.create_user(cp, tenant.id, USERNAME, PASSWORD, role)
            tok = await auth.login(cp, USERNAME, PASSWORD)
            who = await auth.authenticate(cp, tok.access_token)
            detail = await agents.register_agent(
                cp, who, AgentCreate(name="vps-1", endpoint=agent.target, token=agent.token)
            )
            link = cp.links.links[detail.id]
            await _wait(lambda: "ushark-mm" in link.bots)
            bot_id = link.bots["ushark-mm"].id
            assert bot_id is not None
            # the live view is seeded once the link has read the bot's status
            await _wait(lambda: bot_id in cp.live.bots and cp.live.bots[bot_id].status)
            yield Stack(cp, who, detail.id, bot_id)
    finally:
        await cp.stop()


async def _serve(port: int) -> None:
    import uvicorn

    from controlplane.app import create_app
    from ui import console

    with tempfile.TemporaryDirectory(prefix="mmbot-console-") as tmp:
        async with console_stack(Path(tmp)) as stack:
            app = create_app(cp=stack.cp, manage_lifecycle=False)
            console.attach(app, stack.cp)
            config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
            server = uvicorn.Server(config)
            serving = asyncio.create_task(server.serve())
            # READY only once uvicorn listens: the browser's first request must not race it.
            while not server.started:
                if serving.done():
                    await serving  # failed to start (port taken?): raise its error
                    return
                await asyncio.sleep(0.05)
            print(f"READY http://127.0.0.1:{port} bot={stack.bot_id}", flush=True)
            await serving


def main() -> None:
    os.environ.setdefault(
        "NICEGUI_STORAGE_PATH", tempfile.mkdtemp(prefix="nicegui-console-stack-")
    )  # before NiceGUI is imported (by _serve)
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=8080)
    args = p.parse_args()
    asyncio.run(_serve(args.port))


if __name__ == "__main__":
    main()
