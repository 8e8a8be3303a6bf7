"""Health (no auth: for load balancers and `make demo` readiness) and Prometheus metrics."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from controlplane.api.deps import CP
from controlplane.db import schema
from controlplane.schemas import HealthOut

router = APIRouter(tags=["health"])
metrics_router = APIRouter(tags=["health"])

DB_TIMEOUT_SECONDS = 3.0


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def health(cp: CP) -> JSONResponse:
    db_ok = True
    try:
        async with asyncio.timeout(DB_TIMEOUT_SECONDS), cp.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception:
        db_ok = False
    agents = cp.live.agents.values()
    out = HealthOut(
        status="ok" if db_ok else "degraded",
        database="ok" if db_ok else "unreachable",
        schema_version=schema.head_revision(),
        agents_online=sum(1 for a in agents if a.online),
        agents_total=len(cp.links.links),
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=200 if db_ok else 503)


@metrics_router.get("/metrics", response_class=Response, include_in_schema=False)
async def metrics(cp: CP) -> Response:
    return Response(cp.metrics.render(), media_type="text/plain; version=0.0.4")
