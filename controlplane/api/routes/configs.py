"""Config versions: list, read, diff, validate/apply (POST), roll back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response, status

from controlplane.api.deps import CP, Who
from controlplane.schemas import (
    ConfigApplied,
    ConfigDiff,
    ConfigIn,
    ConfigPreview,
    ConfigVersionDetail,
    ConfigVersionOut,
    RollbackIn,
)
from controlplane.services import configs

router = APIRouter(prefix="/bots/{bot_id}/configs", tags=["configs"])

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such bot or version"},
    409: {"description": "refused: version conflict, or the agent's reason"},
    503: {"description": "the bot's agent is offline"},
}


@router.get("", response_model=list[ConfigVersionOut], responses=ERRORS)
async def list_configs(cp: CP, who: Who, bot_id: int) -> list[ConfigVersionOut]:
    return await configs.list_configs(cp, who, bot_id)


@router.post(
    "",
    response_model=ConfigApplied | ConfigPreview,
    status_code=status.HTTP_201_CREATED,
    responses={**ERRORS, 200: {"model": ConfigPreview, "description": "dry run: valid"}},
)
async def submit_config(
    cp: CP,
    who: Who,
    bot_id: int,
    body: ConfigIn,
    response: Response,
    dry_run: Annotated[
        bool, Query(description="Only validate and preview the ladder; change nothing")
    ] = False,
) -> ConfigApplied | ConfigPreview:
    """Validate and apply a new config version (201), or with dry_run validate only (200)."""
    out = await configs.submit_config(cp, who, bot_id, body, dry_run=dry_run)
    if dry_run:
        response.status_code = status.HTTP_200_OK
    return out


@router.get("/{version}", response_model=ConfigVersionDetail, responses=ERRORS)
async def get_config(cp: CP, who: Who, bot_id: int, version: int) -> ConfigVersionDetail:
    return await configs.get_config(cp, who, bot_id, version)


@router.get("/{a}/diff/{b}", response_model=ConfigDiff, responses=ERRORS)
async def diff_configs(cp: CP, who: Who, bot_id: int, a: int, b: int) -> ConfigDiff:
    """Field-by-field changes from version a to version b, and a unified YAML diff."""
    return await configs.diff_configs(cp, who, bot_id, a, b)


@router.post(
    "/{version}/rollback",
    response_model=ConfigApplied,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
)
async def rollback(
    cp: CP, who: Who, bot_id: int, version: int, body: Annotated[RollbackIn | None, Body()] = None
) -> ConfigApplied:
    """Apply the config of an old version as a new version."""
    return await configs.rollback(cp, who, bot_id, version, body.comment if body else "")
