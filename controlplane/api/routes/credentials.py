"""Venue credentials: PUT and DELETE only. There is no GET, by design (write-only)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from controlplane.api.deps import CP, Who
from controlplane.schemas import CredentialsIn, CredentialsOut
from controlplane.services import credentials

router = APIRouter(prefix="/bots/{bot_id}/credentials", tags=["credentials"])


@router.put("", response_model=CredentialsOut, responses={404: {"description": "no such bot"}})
async def set_credentials(cp: CP, who: Who, bot_id: int, body: CredentialsIn) -> CredentialsOut:
    """Store (encrypted) and forward to the bot's agent; the response never echoes them."""
    return await credentials.set_credentials(cp, who, bot_id, body)


@router.delete(
    "", status_code=status.HTTP_204_NO_CONTENT, responses={404: {"description": "no such bot"}}
)
async def delete_credentials(cp: CP, who: Who, bot_id: int) -> Response:
    await credentials.delete_credentials(cp, who, bot_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
