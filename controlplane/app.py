"""The FastAPI application factory.

`create_app()` builds the API around one `ControlPlane`. Pass your own `cp` to embed it (the
demo runs the agent in the same process; the console mounts NiceGUI on the returned app from
its own module, never from here: NiceGUI's `ui.run_with` must live in a module the API does
not import). With `manage_lifecycle=False` the caller starts and stops the ControlPlane.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response

from controlplane.api import errors
from controlplane.api.routes import (
    agents,
    audit,
    auth,
    bots,
    commands,
    configs,
    credentials,
    health,
    tokens,
)
from controlplane.core.config import Settings
from controlplane.runtime import ControlPlane

API_PREFIX = "/api/v1"
VERSION = "0.1.0"


def create_app(
    settings: Settings | None = None,
    *,
    cp: ControlPlane | None = None,
    manage_lifecycle: bool = True,
) -> FastAPI:
    control_plane = cp if cp is not None else ControlPlane(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            await control_plane.start()
        try:
            yield
        finally:
            if manage_lifecycle:
                await control_plane.stop()

    app = FastAPI(
        title="mmbot control plane",
        version=VERSION,
        description="Agents, bots, configs, commands and history. Every call but health needs "
        "a bearer token (POST /api/v1/auth/token, or an API token from /api/v1/tokens).",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.cp = control_plane
    errors.install(app)

    @app.middleware("http")
    async def _metrics(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        t0 = time.perf_counter()
        response = await call_next(request)
        # The route template, not the raw path (bounded label cardinality). FastAPI >= 0.16x
        # resolves included routers lazily and records the full template in this context.
        ctx = (request.scope.get("fastapi") or {}).get("effective_route_context")
        path = getattr(ctx, "path", None) or getattr(
            request.scope.get("route"), "path", "unmatched"
        )
        m = control_plane.metrics
        m.http_requests.labels(request.method, path, str(response.status_code)).inc()
        m.http_seconds.labels(path).observe(time.perf_counter() - t0)
        return response

    api = APIRouter(prefix=API_PREFIX)
    for module in (health, auth, tokens, agents, bots, configs, commands, credentials, audit):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(health.metrics_router)
    return app
